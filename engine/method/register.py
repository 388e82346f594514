"""The register of social organizations, kept by each town for its area (and by the
administrator for all): name, unified social credit code, registration status, service
fields, the limit of concurrent projects, branches, and the people who work for it.

Step 1's eligibility screening reads this register.
"""
from dataclasses import dataclass
from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.core import access, audit
from engine.core.models import Affiliation, Organization, RegistrationStatus, RoleGrant, Town, User
from engine.errors import ConflictError, ForbiddenError, NotFoundError, Text, ValidationError
from engine.method import credit_codes
from engine.method.catalog import ServiceField
from engine.method.models import OrganizationBranch

MAX_PROJECTS_LIMIT = 50


def towns_kept_by(session: Session, user: User) -> list[Town]:
    """The towns whose register the user keeps: their own as town government, all for administrators."""
    towns = session.scalars(select(Town).order_by(Town.id))
    return [town for town in towns if access.holds_or_admin(session, user, "town_government", "town", town.id)]


def may_keep(session: Session, user: User, town_id: int | None) -> bool:
    """An organization of no town is kept by administrators only."""
    if town_id is None:
        return access.holds(session, user, "administrator", "global", 0)
    return access.holds_or_admin(session, user, "town_government", "town", town_id)


def organizations_kept_by(session: Session, user: User) -> list[Organization]:
    town_ids = [town.id for town in towns_kept_by(session, user)]
    query = select(Organization).order_by(Organization.town_id, Organization.name)
    if not access.holds(session, user, "administrator", "global", 0):
        query = query.where(Organization.town_id.in_(town_ids))
    return list(session.scalars(query))


def organization_kept(session: Session, user: User, organization_id: int) -> Organization:
    """The organization if the user keeps its register entry; NotFoundError otherwise."""
    org = session.get(Organization, organization_id)
    if org is None or not may_keep(session, user, org.town_id):
        raise NotFoundError(Text("No organization %(id)s on your register.", id=organization_id))
    return org


def _checked(session: Session, user: User, values: dict[str, Any], org: Organization | None) -> dict[str, Any]:
    """The register fields, cleaned; ValidationError listing every bad field."""
    errors: dict[str, list[Text]] = {}
    name = str(values.get("name") or "").strip()
    if not name:
        errors["name"] = [Text("Give the organization's registered name.")]
    elif len(name) > 200:
        errors["name"] = [Text("At most %(count)s characters.", count=200)]
    code_problem = credit_codes.problem(values.get("credit_code") or "")
    code = credit_codes.normalized(values.get("credit_code") or "")
    if code_problem is not None:
        errors["credit_code"] = [code_problem]
    else:
        query = select(Organization).where(Organization.credit_code == code)
        if org is not None:
            query = query.where(Organization.id != org.id)
        holder = session.scalar(query)
        if holder is not None:
            errors["credit_code"] = [Text("%(holder)s is already registered with this code.", holder=holder.name)]
    status = str(values.get("status") or "")
    if status not in set(RegistrationStatus):
        errors["status"] = [Text("Choose a registration status.")]
    chosen: Iterable[Any] = values.get("service_fields") or []
    fields = [str(f) for f in chosen]
    if any(f not in set(ServiceField) for f in fields):
        errors["service_fields"] = [Text("Choose service fields from the list.")]
    try:
        limit = int(values.get("max_concurrent_projects") or 0)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_PROJECTS_LIMIT:
        errors["max_concurrent_projects"] = [Text("A whole number from 1 to %(max)s.", max=MAX_PROJECTS_LIMIT)]
    town_id = values.get("town_id")
    try:
        town_id = int(town_id) if town_id not in (None, "") else None
    except (TypeError, ValueError):
        town_id = -1
    if town_id is None or not may_keep(session, user, town_id) or session.get(Town, town_id) is None:
        errors["town_id"] = [Text("Choose a town whose register you keep.")]
    if errors:
        raise ValidationError(Text("The organization was not saved."), errors=errors)
    return {"name": name, "name_en": str(values.get("name_en") or "").strip()[:200], "credit_code": code,
            "status": RegistrationStatus(status), "service_fields": [f for f in ServiceField if f in fields],
            "max_concurrent_projects": limit, "town_id": town_id}


def register(session: Session, user: User, values: dict[str, Any]) -> Organization:
    """A new organization on the register of a town the user keeps."""
    fields = _checked(session, user, values, None)
    # The credit code also serves as the organization's key (CLI scopes, role grants).
    if session.scalar(select(Organization.id).where(Organization.code == fields["credit_code"])) is not None:
        raise ConflictError(Text("An organization with the key %(code)s exists.", code=fields["credit_code"]))
    org = Organization(code=fields["credit_code"], **fields)
    session.add(org)
    session.flush()
    audit.record(session, user.username, "organization_register", org.code, _logged(fields))
    return org


def update(session: Session, user: User, organization_id: int, values: dict[str, Any]) -> Organization:
    """Change an organization's register entry (moving it to another town needs that town too)."""
    org = organization_kept(session, user, organization_id)
    fields = _checked(session, user, values, org)
    changed = {name: value for name, value in fields.items() if getattr(org, name) != value}
    for name, value in changed.items():
        setattr(org, name, value)
    if changed:
        audit.record(session, user.username, "organization_update", org.code, _logged(changed))
    return org


def _logged(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: str(value) if isinstance(value, RegistrationStatus) else value for name, value in fields.items()}


def add_branch(session: Session, user: User, organization_id: int, name: str, address: str = "") -> OrganizationBranch:
    org = organization_kept(session, user, organization_id)
    name, address = str(name or "").strip(), str(address or "").strip()
    if not name:
        raise ValidationError(Text("Give the branch's name."), errors={"branch_name": [Text("Required.")]})
    if len(name) > 200 or len(address) > 300:
        raise ValidationError(Text("The branch's name or address is too long."))
    if session.scalar(select(OrganizationBranch.id).where(OrganizationBranch.organization_id == org.id,
                                                          OrganizationBranch.name == name)) is not None:
        message = Text("%(org)s already has a branch named %(name)s.", org=org.name, name=name)
        raise ValidationError(message, errors={"branch_name": [message]})
    branch = OrganizationBranch(organization_id=org.id, name=name, address=address)
    session.add(branch)
    session.flush()
    audit.record(session, user.username, "organization_branch_add", org.code, {"name": name, "address": address})
    return branch


def remove_branch(session: Session, user: User, organization_id: int, branch_id: int) -> None:
    org = organization_kept(session, user, organization_id)
    branch = session.get(OrganizationBranch, branch_id)
    if branch is None or branch.organization_id != org.id:
        raise NotFoundError(Text("No such branch of %(org)s.", org=org.name))
    audit.record(session, user.username, "organization_branch_remove", org.code, {"name": branch.name})
    session.delete(branch)


def branches(session: Session, organization_id: int) -> list[OrganizationBranch]:
    return list(session.scalars(select(OrganizationBranch).where(OrganizationBranch.organization_id == organization_id)
                                .order_by(OrganizationBranch.name)))


@dataclass
class StaffMember:
    username: str
    display_name: str
    active: bool


def staff(session: Session, organization_id: int) -> list[StaffMember]:
    """The people who work for the organization: accounts linked to it or acting for it."""
    acting = select(RoleGrant.user_id).where(RoleGrant.role == "social_organization",
                                             RoleGrant.scope_type == "organization",
                                             RoleGrant.scope_id == organization_id)
    employed = select(Affiliation.user_id).where(Affiliation.organization_id == organization_id,
                                                 Affiliation.ends_on.is_(None))
    people = session.scalars(select(User).where(or_(User.id.in_(employed), User.id.in_(acting)))
                             .order_by(User.display_name, User.username))
    return [StaffMember(p.username, p.display_name or p.username, p.active) for p in people]


def check_may_register(session: Session, user: User) -> None:
    if not towns_kept_by(session, user):
        raise ForbiddenError(Text("Only a town government or an administrator keeps the register of organizations."))


__all__ = ["towns_kept_by", "may_keep", "organizations_kept_by", "organization_kept", "register", "update",
           "add_branch", "remove_branch", "branches", "StaffMember", "staff", "check_may_register"]
