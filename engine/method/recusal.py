"""Who must stand aside when a project is decided or evaluated, and why.

Step 4: the project lead presents and leaves the room; step 7: the evaluated organization
recuses itself. A person has an interest in the applicant when, on the day, they
- are its project lead,
- work for it or are its member (an affiliation in force, ``engine.core.affiliations``), or
- act for it in this system (they hold the social-organization role in it).
Each reason is recorded with a code and the facts, so pages can say it in words.
"""
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import affiliations
from engine.core.models import Organization, RoleGrant, User

# The reason codes, and the short English reason kept with them for older readers.
PROJECT_LEAD = "project_lead"
EMPLOYMENT = "employment"
MEMBERSHIP = "membership"
ACTS_FOR = "acts_for"
REASON_TEXT = {PROJECT_LEAD: "project lead", EMPLOYMENT: "affiliated with the applicant",
               MEMBERSHIP: "affiliated with the applicant", ACTS_FOR: "affiliated with the applicant"}


def interests(session: Session, people: Iterable[User], organization_id: int | None, on: date,
              lead: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """``{username: [reason, ...]}`` for each of ``people`` who must stand aside (others absent).

    A reason is ``{"code", "organization"?, "since"?, "title"?}``.
    """
    people = list(people)
    org_name = session.scalar(select(Organization.name).where(Organization.id == organization_id)) \
        if organization_id is not None else None
    ties = affiliations.current(session, [p.id for p in people], on)
    acting: set[int] = set()
    if organization_id is not None and people:
        acting = set(session.scalars(select(RoleGrant.user_id).where(
            RoleGrant.user_id.in_([p.id for p in people]), RoleGrant.role == "social_organization",
            RoleGrant.scope_type == "organization", RoleGrant.scope_id == organization_id)))
    found: dict[str, list[dict[str, Any]]] = {}
    for person in people:
        reasons: list[dict[str, Any]] = []
        if lead and person.username == lead:
            reasons.append({"code": PROJECT_LEAD})
        for tie in ties.get(person.id, []):
            if tie.organization_id == organization_id:
                reason = {"code": tie.kind, "organization": org_name, "since": tie.starts_on.isoformat()}
                if tie.title:
                    reason["title"] = tie.title
                reasons.append(reason)
        if person.id in acting and not any(r["code"] in (EMPLOYMENT, MEMBERSHIP) for r in reasons):
            reasons.append({"code": ACTS_FOR, "organization": org_name})
        if reasons:
            found[person.username] = reasons
    return found


def recused_entry(person: User, reasons: list[dict[str, Any]]) -> dict[str, Any]:
    """How a recused person is recorded: who, the main reason in short English, all reasons."""
    return {"username": person.username, "name": person.display_name or person.username,
            "reason": REASON_TEXT.get(reasons[0]["code"], reasons[0]["code"]), "reasons": reasons}
