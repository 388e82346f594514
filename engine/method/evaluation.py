"""Step 7: the evaluation panel and the acceptance decision.

Panel rule: only people of the system (active accounts), no one tied to the evaluated
organization (it recuses itself: employment, membership, acting for it), no service
recipients, and at least ``min_size`` members - otherwise the BPMN error ``invalid_panel``
sends the committee back to form it again. Acceptance: the panel members' average score
reaches ``pass_score`` (set in the diagram). Scores are exact decimals.
"""
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import BusinessRuleError, NotFoundError, Text, ValidationError
from engine.core.forms import is_object
from engine.core.models import Instance, User, utcnow
from engine.core.users import members
from engine.method import recusal
from engine.method.models import Decision


def _member_name(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry.strip() or None
    return entry.get("username") or entry.get("name") or entry.get("member")


def _instance(session: Session, instance_id: int) -> Instance:
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFoundError(Text("No project %(id)s.", id=instance_id))
    return instance


def candidates(session: Session, instance: Instance, on: date) -> list[dict[str, Any]]:
    """People the committee may pick for the panel, each with the reasons they may not.

    The community's evaluation panel members and resident representatives (active
    accounts), by display name; an entry with ``reasons`` must stand aside (recusal).
    """
    people: dict[str, tuple[User, str]] = {}
    for role in ("evaluation_panel", "resident_representative"):
        for person in members(session, role, "community", instance.community_id):
            people.setdefault(person.username, (person, role))
    ordered = [people[name] for name in people]  # panel members first, then representatives
    stand_aside = recusal.interests(session, [p for p, _ in ordered], instance.organization_id, on)
    return [{"username": p.username, "name": p.display_name or p.username, "role": role,
             "reasons": stand_aside.get(p.username, [])} for p, role in ordered]


def panel_choices(session: Session, task: Any, now: datetime) -> list[dict[str, Any]]:
    """What the panel form's ``x-choices: panel_candidates`` field offers for ``task``:
    each candidate's username, display name, role (``group``) and recusal reasons."""
    instance = _instance(session, task.instance_id)
    return [{"value": c["username"], "label": c["name"], "group": c["role"], "reasons": c["reasons"]}
            for c in candidates(session, instance, now.date())]


def check_panel(session: Session, instance_id: int, panel: Any, min_size: int = 3,
                service_recipients: Any = (), now: datetime | None = None) -> dict[str, Any]:
    """The panel's members, or ``BusinessRuleError(code="invalid_panel")`` listing every problem.

    Every member must be an active person of the system, not tied to the evaluated
    organization (``recusal.interests``: employment, membership, acting for it) and not a
    service recipient (named in ``service_recipients`` or flagged on the entry).
    """
    instance = _instance(session, instance_id)
    recipients = set(service_recipients or ())
    listed: Iterable[Any] = panel or []
    entries: list[dict[str, Any]] = [{"username": entry} if isinstance(entry, str) else dict(entry) for entry in listed]
    if recipients:
        for entry in entries:
            entry["service_recipient"] = entry.get("service_recipient") or entry.get("username") in recipients
    names = [_member_name(e) for e in entries]
    people = {p.username: p for p in session.scalars(select(User).where(User.username.in_([n for n in names if n])))}
    stand_aside = recusal.interests(session, [p for p in people.values() if p.active], instance.organization_id,
                                    (now or utcnow()).date())
    problems: list[str] = []
    codes: list[dict[str, Any]] = []
    members_: list[str] = []
    for entry, name in zip(entries, names):
        person = people.get(name) if name else None
        if not name:
            problems.append("a panel entry has no name")
            codes.append({"code": "no_name"})
        elif person is None:
            problems.append(f"{name} is not a person in the system")
            codes.append({"code": "not_a_person", "username": name})
        elif not person.active:
            problems.append(f"{name} no longer has an active account")
            codes.append({"code": "inactive", "username": name, "name": person.display_name})
        elif name in stand_aside or (entry.get("organization_id") is not None
                                     and int(entry["organization_id"]) == instance.organization_id):
            problems.append(f"{name} belongs to the evaluated organization")
            codes.append({"code": "affiliated", "username": name, "name": person.display_name,
                          "reasons": stand_aside.get(name, [])})
        elif entry.get("service_recipient"):
            problems.append(f"{name} received the service")
            codes.append({"code": "service_recipient", "username": name, "name": person.display_name})
        elif name in members_:
            problems.append(f"{name} is listed twice")
            codes.append({"code": "twice", "username": name, "name": person.display_name})
        else:
            members_.append(name)
    if len(members_) < int(min_size):
        problems.append(f"the panel needs at least {int(min_size)} eligible members, it has {len(members_)}")
        codes.append({"code": "too_few", "min_size": int(min_size), "size": len(members_)})
    if problems:
        raise BusinessRuleError(Text("The evaluation panel is not valid: %(problems)s", problems="; ".join(problems)),
                                code="invalid_panel",
                                variables={"panel_problems": problems, "panel_problem_codes": codes})
    return {"members": members_, "size": len(members_),
            "names": {name: people[name].display_name or name for name in members_}}


def _score(value: Any) -> Decimal:
    try:
        score = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError("A score must be a number.", errors={"scores": [str(value)]}) from exc
    if not Decimal(0) <= score <= Decimal(100):
        raise ValidationError("A score must be between 0 and 100.", errors={"scores": [str(value)]})
    return score


def normalize_scores(scores: Any) -> list[tuple[str, Decimal]]:
    """[(member, score)] from a list of numbers, of ``{member|username|scorer, score}``, or ``{member: score}``."""
    if is_object(scores):
        scores = [{"member": k, "score": v} for k, v in scores.items()]
    listed: Iterable[Any] = scores or []
    result: list[tuple[str, Decimal]] = []
    for i, item in enumerate(listed):
        if is_object(item):
            member = item.get("member") or item.get("username") or item.get("scorer") or f"#{i + 1}"
            value = next((item[k] for k in item if k.endswith("score") and item[k] is not None), None)
        else:
            member, value = f"#{i + 1}", item
        result.append((member, _score(value)))
    return result


def decide_acceptance(scores: Any, pass_score: Any, members: Iterable[str] | None = None) -> dict[str, Any]:
    """Average of the members' scores against ``pass_score``; scores of non-members are ignored."""
    pairs = normalize_scores(scores)
    if members:
        pairs = [(m, s) for m, s in pairs if m in set(members)]
    if not pairs:
        raise BusinessRuleError("No panel member has scored the project.", code="no_scores")
    average = sum((s for _, s in pairs), Decimal(0)) / len(pairs)
    threshold = _score(pass_score)
    return {"count": len(pairs), "average": str(average.quantize(Decimal("0.01"))),
            "pass_score": str(threshold), "accepted": average >= threshold}


def record_acceptance(session: Session, job_id: int, instance_id: int, scores: Any, pass_score: Any,
                      members: Iterable[str], now: datetime) -> dict[str, Any]:
    done = session.scalar(select(Decision).where(Decision.job_id == job_id))
    if done is not None:
        return done.details
    result = decide_acceptance(scores, pass_score, members)
    session.add(Decision(instance_id=instance_id, job_id=job_id, kind="acceptance",
                         outcome="accepted" if result["accepted"] else "not_accepted", details=result, created_at=now))
    session.flush()
    return result
