"""Step 4: the residents' representatives' meeting votes on an application.

Roster: the representatives of the instance's community, minus the recused - the project
lead and anyone affiliated with the applying organization; the recused neither vote nor
count. Tally: by the rule in ``vote_rule`` (the law: at least two-thirds of the members
present, more than half of those present voting yes; 6 of 9 present is a valid meeting).
"""
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import NotFoundError, Text, ValidationError
from engine.method.funds import to_fen
from engine.method import recusal
from engine.method.vote_rule import VoteRule
from engine.core.forms import is_object
from engine.core.models import Instance, utcnow
from engine.core.notifications import NotificationKind, announce_to_community
from engine.method.models import Decision
from engine.core.users import members

CHOICES = ("yes", "no", "abstain", "absent")


def _instance(session: Session, instance_id: int) -> Instance:
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFoundError(Text("No project %(id)s.", id=instance_id))
    return instance


def roster(session: Session, instance_id: int, lead: str | None = None,
           now: datetime | None = None) -> dict[str, Any]:
    """Who votes on the instance's application, and who is recused and why.

    ``voters`` are usernames (one ballot each), ``names`` their display names, ``recused``
    entries of ``recusal.recused_entry``; ``members`` counts the voters only.
    """
    instance = _instance(session, instance_id)
    reps = members(session, "resident_representative", "community", instance.community_id)
    stand_aside = recusal.interests(session, reps, instance.organization_id, (now or utcnow()).date(), lead)
    voters: list[str] = []
    recused: list[dict[str, Any]] = []
    for rep in reps:
        if rep.username in stand_aside:
            recused.append(recusal.recused_entry(rep, stand_aside[rep.username]))
        else:
            voters.append(rep.username)
    names = {rep.username: rep.display_name or rep.username for rep in reps}
    return {"voters": voters, "recused": recused, "members": len(voters), "names": names}


def _ballot_fields(ballot: dict[str, Any]) -> tuple[Any, str | None]:
    voter = next((ballot[k] for k in ("voter", "username", "assignee") if ballot.get(k)), None)
    choice = next((ballot[k] for k in ("vote", "choice", "ballot") if ballot.get(k)), None)
    if ballot.get("present") is False:
        choice = "absent"
    return voter, str(choice).lower() if choice else None


def normalize_ballots(ballots: Any) -> list[tuple[Any, str | None]]:
    """Ballots as a list of ``{"voter", "vote"}``; accepts a list or ``{voter: ballot}``."""
    if is_object(ballots):
        ballots = [dict(v, voter=k) if is_object(v) else {"voter": k, "vote": v} for k, v in ballots.items()]
    listed: Iterable[Any] = ballots or []
    return [_ballot_fields(b) for b in listed if is_object(b)]


def tally(voters: list[str], ballots: Any, rule: VoteRule | None = None) -> dict[str, Any]:
    """Count ballots of the roster's ``voters`` under ``rule`` (the law when not given).

    Ballots of anyone else (the recused, outsiders) and second ballots of one voter are
    ignored and listed.
    """
    rule = rule or VoteRule()
    members = set(voters)
    counted: dict[Any, str] = {}
    ignored: list[dict[str, Any]] = []
    for voter, choice in normalize_ballots(ballots):
        if voter not in members or voter in counted or choice not in CHOICES:
            ignored.append({"voter": voter, "vote": choice})
            continue
        counted[voter] = choice
    yes = sum(1 for c in counted.values() if c == "yes")
    no = sum(1 for c in counted.values() if c == "no")
    abstain = sum(1 for c in counted.values() if c == "abstain")
    present = yes + no + abstain
    valid = rule.quorum_met(present, len(members))
    passed = valid and rule.passed(yes, present)
    return {"members": len(members), "present": present, "yes": yes, "no": no, "abstain": abstain,
            "valid": valid, "passed": passed, **rule.as_dict(),
            "rule": {**rule.as_dict(), "text": rule.words()},
            "announcement": rule.announcement(len(members), present, yes, no, abstain),
            "ignored": ignored}


def outcome_text(result: dict[str, Any]) -> str:
    """The decision's outcome key: ``passed``, ``rejected`` or ``invalid (no quorum)``."""
    if not result["valid"]:
        return "invalid (no quorum)"
    return "passed" if result["passed"] else "rejected"


def record_tally(session: Session, job_id: int, instance_id: int, voters: list[str], recused: list[Any],
                 ballots: Any, rule: VoteRule, now: datetime | None, amount: Any = None) -> dict[str, Any]:
    """Tally, record the decision and announce it to the community at once.

    The result carries the rule applied (``rule``: ratios, comparisons and the rule in words)
    and the announcement in Chinese and English (``announcement``: ``{"zh", "en"}``), e.g.
    "第1轮表决：应到9人，实到6人，到会人数不少于三分之二，会议有效；……表决通过".
    A second run of the same job returns the recorded result and announces nothing again.
    ``amount`` (yuan), the budget the application asks for, is kept with the result for the
    public notice.
    """
    done = session.scalar(select(Decision).where(Decision.job_id == job_id))
    if done is not None:
        return done.details
    result = tally(voters, ballots, rule)
    instance = _instance(session, instance_id)
    rounds = session.scalar(select(func.count()).select_from(Decision)
                            .where(Decision.instance_id == instance_id, Decision.kind == "vote")) or 0
    result.update(round=rounds + 1, recused=[r["username"] if isinstance(r, dict) else r for r in recused],
                  recused_reasons=[r for r in recused if isinstance(r, dict)], outcome=outcome_text(result))
    try:
        result["amount_fen"] = to_fen(amount) if amount not in (None, "") else None
    except ValidationError:  # an odd figure in the application does not stop the count
        result["amount_fen"] = None
    said = result["announcement"]
    result["announcement"] = {
        "zh": f"“{instance.title}”第{result['round']}轮表决：{said['zh']}。",
        "en": f"Vote on '{instance.title}' (round {result['round']}): {said['en']}.",
    }
    session.add(Decision(instance_id=instance_id, job_id=job_id, kind="vote", outcome=result["outcome"],
                         details=result, created_at=now))
    announce_to_community(session, instance.community_id, result["announcement"]["en"], job_id=job_id, now=now,
                          instance_id=instance_id, kind=NotificationKind.VOTE_RESULT,
                          params={"title": instance.title, "round": result["round"], "outcome": result["outcome"],
                                  "announcement": result["announcement"]})
    return result
