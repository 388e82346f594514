"""Step 7: the evaluation panel and the acceptance decision.

Panel rule: no member of the evaluated organization (it recuses itself), no service
recipients, and at least ``min_size`` members - otherwise the BPMN error ``invalid_panel``
sends the committee back to form it again. Acceptance: the panel members' average score
reaches ``pass_score`` (set in the diagram). Scores are exact decimals.
"""
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from engine.errors import BusinessRuleError, Text, ValidationError
from engine.core.models import Instance, User
from engine.method.models import Decision


def _member_name(entry):
    if isinstance(entry, str):
        return entry
    return entry.get("username") or entry.get("name") or entry.get("member")


def check_panel(session, instance_id, panel, min_size=3, service_recipients=()):
    """The panel's members, or ``BusinessRuleError(code="invalid_panel")`` listing every problem.

    Members named in ``service_recipients`` count as having received the service.
    """
    instance = session.get(Instance, instance_id)
    recipients = set(service_recipients or ())
    entries: list[dict[str, Any]] = [{"username": entry} if isinstance(entry, str) else dict(entry) for entry in panel or []]
    if recipients:
        for entry in entries:
            entry["service_recipient"] = entry.get("service_recipient") or entry.get("username") in recipients
    names = [_member_name(e) for e in entries]
    affiliation = dict(session.execute(select(User.username, User.organization_id)
                                       .where(User.username.in_([n for n in names if n]))).all())
    problems, members = [], []
    for entry, name in zip(entries, names):
        if not name:
            problems.append("a panel entry has no name")
            continue
        org = entry.get("organization_id") or affiliation.get(name)
        if org is not None and int(org) == instance.organization_id:
            problems.append(f"{name} belongs to the evaluated organization")
        elif entry.get("service_recipient"):
            problems.append(f"{name} received the service")
        elif name in members:
            problems.append(f"{name} is listed twice")
        else:
            members.append(name)
    if len(members) < int(min_size):
        problems.append(f"the panel needs at least {int(min_size)} eligible members, it has {len(members)}")
    if problems:
        raise BusinessRuleError(Text("The evaluation panel is not valid: %(problems)s", problems="; ".join(problems)),
                                code="invalid_panel",
                                variables={"panel_problems": problems})
    return {"members": members, "size": len(members)}


def _score(value):
    try:
        score = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError("A score must be a number.", errors={"scores": [str(value)]}) from exc
    if not Decimal(0) <= score <= Decimal(100):
        raise ValidationError("A score must be between 0 and 100.", errors={"scores": [str(value)]})
    return score


def normalize_scores(scores):
    """[(member, score)] from a list of numbers, of ``{member|username|scorer, score}``, or ``{member: score}``."""
    if isinstance(scores, dict):
        scores = [{"member": k, "score": v} for k, v in scores.items()]
    result = []
    for i, item in enumerate(scores or []):
        if isinstance(item, dict):
            member = item.get("member") or item.get("username") or item.get("scorer") or f"#{i + 1}"
            value = next((item[k] for k in item if k.endswith("score") and item[k] is not None), None)
        else:
            member, value = f"#{i + 1}", item
        result.append((member, _score(value)))
    return result


def decide_acceptance(scores, pass_score, members=None):
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


def record_acceptance(session, job_id, instance_id, scores, pass_score, members, now):
    done = session.scalar(select(Decision).where(Decision.job_id == job_id))
    if done is not None:
        return done.details
    result = decide_acceptance(scores, pass_score, members)
    session.add(Decision(instance_id=instance_id, job_id=job_id, kind="acceptance",
                         outcome="accepted" if result["accepted"] else "not_accepted", details=result, created_at=now))
    session.flush()
    return result
