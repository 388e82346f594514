"""Step 4: the residents' representatives' meeting votes on an application.

Roster: the representatives of the instance's community, minus the recused - the project
lead and anyone affiliated with the applying organization; the recused neither vote nor
count. Tally (Organic Law of Villagers' Committees, art. 26): the meeting is valid only with
MORE than ``quorum_ratio`` of its members present, and the application passes with MORE
than ``pass_ratio`` of those present. Both comparisons are strict and exact (fractions,
no floating point: 6 of 9 present is not more than 2/3).
"""
from fractions import Fraction

from sqlalchemy import func, select

from engine.errors import Text, ValidationError
from engine.core.models import Instance
from engine.core.notifications import announce_to_community
from engine.method.models import Decision
from engine.core.users import members

CHOICES = ("yes", "no", "abstain", "absent")


def ratio(value, name="ratio"):
    """An exact fraction from ``"2/3"``, ``0.5``, ``Fraction(2, 3)`` or ``0.6666666666666666``."""
    try:
        if isinstance(value, Fraction):
            result = value
        elif isinstance(value, str):
            result = Fraction(value.strip())
        elif isinstance(value, float):
            result = Fraction(value).limit_denominator(1000)
        else:
            result = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ValidationError(Text("%(name)s must be a fraction like 2/3.", name=name), errors={name: [str(exc)]}) from exc
    if not 0 <= result < 1:
        raise ValidationError(Text("%(name)s must be at least 0 and below 1.", name=name), errors={name: [str(value)]})
    return result


def roster(session, instance_id, lead=None):
    """Who votes on the instance's application, and who is recused and why."""
    instance = session.get(Instance, instance_id)
    voters, recused = [], []
    for rep in members(session, "resident_representative", "community", instance.community_id):
        if lead and rep.username == lead:
            recused.append({"username": rep.username, "reason": "project lead"})
        elif rep.organization_id is not None and rep.organization_id == instance.organization_id:
            recused.append({"username": rep.username, "reason": "affiliated with the applicant"})
        else:
            voters.append(rep.username)
    return {"voters": voters, "recused": recused, "members": len(voters)}


def _ballot_fields(ballot):
    voter = next((ballot[k] for k in ("voter", "username", "assignee") if ballot.get(k)), None)
    choice = next((ballot[k] for k in ("vote", "choice", "ballot") if ballot.get(k)), None)
    if ballot.get("present") is False:
        choice = "absent"
    return voter, str(choice).lower() if choice else None


def normalize_ballots(ballots):
    """Ballots as a list of ``{"voter", "vote"}``; accepts a list or ``{voter: ballot}``."""
    if isinstance(ballots, dict):
        ballots = [dict(v, voter=k) if isinstance(v, dict) else {"voter": k, "vote": v} for k, v in ballots.items()]
    return [_ballot_fields(b) for b in (ballots or []) if isinstance(b, dict)]


def tally(voters, ballots, quorum_ratio="2/3", pass_ratio="1/2"):
    """Count ballots of the roster's ``voters``. Ballots of anyone else (the recused, outsiders)
    and second ballots of one voter are ignored and listed."""
    quorum, majority = ratio(quorum_ratio, "quorum_ratio"), ratio(pass_ratio, "pass_ratio")
    members = set(voters)
    counted, ignored = {}, []
    for voter, choice in normalize_ballots(ballots):
        if voter not in members or voter in counted or choice not in CHOICES:
            ignored.append({"voter": voter, "vote": choice})
            continue
        counted[voter] = choice
    yes = sum(1 for c in counted.values() if c == "yes")
    no = sum(1 for c in counted.values() if c == "no")
    abstain = sum(1 for c in counted.values() if c == "abstain")
    present = yes + no + abstain
    valid = len(members) > 0 and Fraction(present, len(members)) > quorum
    passed = valid and present > 0 and Fraction(yes, present) > majority
    return {"members": len(members), "present": present, "yes": yes, "no": no, "abstain": abstain,
            "valid": valid, "passed": passed, "quorum_ratio": str(quorum), "pass_ratio": str(majority),
            "ignored": ignored}


def outcome_text(result):
    if not result["valid"]:
        return "invalid (no quorum)"
    return "passed" if result["passed"] else "rejected"


def record_tally(session, job_id, instance_id, voters, recused, ballots, quorum_ratio, pass_ratio, now):
    """Tally, record the decision and announce it to the community at once.

    A second run of the same job returns the recorded result and announces nothing again.
    """
    done = session.scalar(select(Decision).where(Decision.job_id == job_id))
    if done is not None:
        return done.details
    result = tally(voters, ballots, quorum_ratio, pass_ratio)
    instance = session.get(Instance, instance_id)
    rounds = session.scalar(select(func.count()).select_from(Decision)
                            .where(Decision.instance_id == instance_id, Decision.kind == "vote"))
    result.update(round=rounds + 1, recused=[r["username"] if isinstance(r, dict) else r for r in recused],
                  outcome=outcome_text(result))
    result["announcement"] = (
        f"Vote on '{instance.title}' (round {result['round']}): {result['outcome']} - "
        f"{result['present']} of {result['members']} present, {result['yes']} yes, {result['no']} no, "
        f"{result['abstain']} abstain.")
    session.add(Decision(instance_id=instance_id, job_id=job_id, kind="vote", outcome=result["outcome"],
                         details=result, created_at=now))
    announce_to_community(session, instance.community_id, result["announcement"], job_id=job_id, now=now)
    return result
