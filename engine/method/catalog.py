"""Step 1's catalog of transferable service items (委托转移服务事项目录清单), kept per
community and year.

The community committee adds, edits and retires items; the town government approves the
community's catalog for the year. A project starts only on an item of the current year's
catalog that is approved as it stands now and not retired. An item a project uses is
never deleted (retire it instead); an item never used may be removed.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from engine.core import access, audit
from engine.core.models import CatalogItem, Community, Instance, User, utcnow
from engine.errors import ConflictError, ForbiddenError, NotFoundError, Text, ValidationError
from engine.method.models import CatalogApproval


class ServiceField(StrEnum):
    """The service fields of items and organizations (the pilot's target groups and tasks)."""
    ELDERLY = "elderly"
    YOUTH = "youth"
    WOMEN = "women"
    VULNERABLE = "vulnerable"
    MEDIATION = "mediation"
    CULTURE = "culture"
    OTHER = "other"


class ItemState(StrEnum):
    """How an item stands in its catalog."""
    APPROVED = "approved"    # approved by the town as it stands
    CHANGED = "changed"      # edited since the town approved it
    PENDING = "pending"      # never approved
    RETIRED = "retired"      # no new project starts on it


EDITABLE = ("name", "name_en", "service_field", "social_work", "description")
FIRST_YEAR, LAST_YEAR = 2000, 2100


def this_year(utc_offset_hours: float = 8.0, now: datetime | None = None) -> int:
    """The calendar year where the towns are (China by default), from naive UTC ``now``."""
    return ((now or utcnow()) + timedelta(hours=utc_offset_hours)).year


def open_condition(year: int) -> ColumnElement[bool]:
    """SQL condition: a project may start on the item in ``year`` (its year's catalog,
    approved as it stands, not retired)."""
    return and_(CatalogItem.year == year, CatalogItem.retired_at.is_(None),
                CatalogItem.approved_revision == CatalogItem.revision)


def state_of(item: CatalogItem) -> ItemState:
    if item.retired_at is not None:
        return ItemState.RETIRED
    if item.approved_revision is None:
        return ItemState.PENDING
    return ItemState.APPROVED if item.approved_revision == item.revision else ItemState.CHANGED


def check_open(item: CatalogItem, year: int) -> None:
    """ConflictError saying why no project may start on ``item`` in ``year`` (see :func:`open_condition`)."""
    if item.retired_at is not None:
        raise ConflictError(Text("%(name)s is retired from the catalog.", name=item.name))
    if item.year != year:
        raise ConflictError(Text("%(name)s is in the %(item_year)s catalog, not in this year's (%(year)s).",
                                 name=item.name, item_year=item.year, year=year))
    if item.approved_revision != item.revision:
        raise ConflictError(Text("%(name)s awaits the town's approval.", name=item.name))


# --- who may do what ------------------------------------------------------------------------

def may_edit(session: Session, user: User, community: Community) -> bool:
    """The community's committee (or an administrator) keeps its catalog."""
    return access.holds_or_admin(session, user, "community_committee", "community", community.id)


def may_approve(session: Session, user: User, community: Community) -> bool:
    """The government of the community's town (or an administrator) approves the catalog."""
    return access.holds_or_admin(session, user, "town_government", "town", community.town_id)


def may_view(session: Session, user: User, community: Community) -> bool:
    return (may_edit(session, user, community) or may_approve(session, user, community)
            or access.holds(session, user, "supervisor", "town", community.town_id))


def communities_for(session: Session, user: User) -> list[Community]:
    """The communities whose catalogs the user sees: their own committee's, their towns',
    or all for administrators."""
    communities = session.scalars(select(Community).order_by(Community.town_id, Community.id))
    return [c for c in communities if may_view(session, user, c)]


def community_in_view(session: Session, user: User, community_id: int) -> Community:
    """The community if the user may see its catalog; NotFoundError otherwise."""
    community = session.get(Community, community_id)
    if community is None or not may_view(session, user, community):
        raise NotFoundError(Text("No community %(id)s in your scope.", id=community_id))
    return community


def _check_edit(session: Session, user: User, community: Community) -> None:
    if not may_edit(session, user, community):
        raise ForbiddenError(Text("Only the committee of %(community)s keeps its catalog.", community=community.name))


# --- reading -------------------------------------------------------------------------------

@dataclass
class CatalogRow:
    item: CatalogItem
    state: ItemState
    projects: int  # projects started on the item (any status)


@dataclass
class Catalog:
    """One community's catalog for one year, with its latest approval."""
    community: Community
    year: int
    rows: list[CatalogRow]
    approval: CatalogApproval | None
    years: list[int] = field(default_factory=list[int])  # years that have a catalog

    @property
    def awaiting_approval(self) -> int:
        """Items the town has yet to approve as they stand (new or changed)."""
        return sum(row.state in (ItemState.PENDING, ItemState.CHANGED) for row in self.rows)


def usage(session: Session, item_ids: list[int]) -> dict[int | None, int]:
    """{item id: number of projects started on it}."""
    if not item_ids:
        return {}
    return dict(session.execute(select(Instance.catalog_item_id, func.count()).where(
        Instance.catalog_item_id.in_(item_ids)).group_by(Instance.catalog_item_id)).all())


def catalog(session: Session, user: User, community_id: int, year: int) -> Catalog:
    """The community's catalog of ``year`` as the user may see it."""
    community = community_in_view(session, user, community_id)
    items = list(session.scalars(select(CatalogItem).where(
        CatalogItem.community_id == community.id, CatalogItem.year == year).order_by(CatalogItem.code)))
    used = usage(session, [item.id for item in items])
    rows = [CatalogRow(item, state_of(item), used.get(item.id, 0)) for item in items]
    # Open items first, retired ones last, each in catalog order.
    rows.sort(key=lambda row: (row.state == ItemState.RETIRED, row.item.code))
    approval = session.scalar(select(CatalogApproval).where(
        CatalogApproval.community_id == community.id, CatalogApproval.year == year)
        .order_by(CatalogApproval.approved_at.desc(), CatalogApproval.id.desc()).limit(1))
    years = sorted(set(session.scalars(select(CatalogItem.year).where(CatalogItem.community_id == community.id)))
                   | {year})
    return Catalog(community, year, rows, approval, years)


def item_in_view(session: Session, user: User, item_id: int) -> CatalogItem:
    item = session.get(CatalogItem, item_id)
    if item is None:
        raise NotFoundError(Text("No catalog item %(id)s.", id=item_id))
    community_in_view(session, user, item.community_id)
    return item


# --- changing ------------------------------------------------------------------------------

def _checked_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The editable fields, cleaned; ValidationError listing every bad field."""
    errors: dict[str, list[Text]] = {}
    name = str(values.get("name") or "").strip()
    if not name:
        errors["name"] = [Text("Give the item's Chinese name.")]
    elif len(name) > 200:
        errors["name"] = [Text("At most %(count)s characters.", count=200)]
    name_en = str(values.get("name_en") or "").strip()
    if len(name_en) > 200:
        errors["name_en"] = [Text("At most %(count)s characters.", count=200)]
    service_field = str(values.get("service_field") or "")
    if service_field not in set(ServiceField):
        errors["service_field"] = [Text("Choose a service field.")]
    if errors:
        raise ValidationError(Text("The catalog item was not saved."), errors=errors)
    return {"name": name, "name_en": name_en, "service_field": service_field,
            "social_work": bool(values.get("social_work")), "description": str(values.get("description") or "").strip()}


def _checked_year(year: object) -> int:  # a form's or caller's value
    if not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationError(Text("%(year)s is not a catalog year.", year=year),
                              errors={"year": [Text("Not a catalog year.")]})
    return year


def _check_unique_name(session: Session, community_id: int, year: int, name: str, item_id: int | None = None) -> None:
    query = select(CatalogItem.id).where(CatalogItem.community_id == community_id, CatalogItem.year == year,
                                         CatalogItem.name == name, CatalogItem.retired_at.is_(None))
    if item_id is not None:
        query = query.where(CatalogItem.id != item_id)
    if session.scalar(query.limit(1)) is not None:
        message = Text("The %(year)s catalog already lists an item named %(name)s.", year=year, name=name)
        raise ValidationError(message, errors={"name": [message]})


def _next_code(session: Session, community_id: int, year: int) -> str:
    """The next free number in the year's catalog: ``2026-01``, ``2026-02`` ..."""
    codes = set(session.scalars(select(CatalogItem.code).where(CatalogItem.community_id == community_id)))
    number = 1
    while f"{year}-{number:02d}" in codes:
        number += 1
    return f"{year}-{number:02d}"


def add_item(session: Session, user: User, community_id: int, year: int, values: dict[str, Any],
             now: datetime | None = None) -> CatalogItem:
    """A new item in the community's catalog of ``year``, awaiting the town's approval.

    ``values`` holds the editable fields and optionally ``code`` (the item's number in the
    catalog; the next free number when empty), unique in the community.
    """
    community = community_in_view(session, user, community_id)
    _check_edit(session, user, community)
    year = _checked_year(year)
    fields = _checked_fields(values)
    code = str(values.get("code") or "").strip() or _next_code(session, community.id, year)
    if len(code) > 64:
        raise ValidationError(Text("The catalog item was not saved."),
                              errors={"code": [Text("At most %(count)s characters.", count=64)]})
    if session.scalar(select(CatalogItem.id).where(CatalogItem.community_id == community.id,
                                                   CatalogItem.code == code)) is not None:
        message = Text("The number %(code)s is already used in the catalogs of %(community)s.",
                       code=code, community=community.name)
        raise ValidationError(message, errors={"code": [message]})
    _check_unique_name(session, community.id, year, fields["name"])
    item = CatalogItem(community_id=community.id, year=year, code=code, revision=1, approved_revision=None,
                       updated_by=user.username, updated_at=now or utcnow(), **fields)
    session.add(item)
    session.flush()
    audit.record(session, user.username, "catalog_item_add", f"{community.code}/{code}", {"year": year, **fields})
    return item


def edit_item(session: Session, user: User, item_id: int, values: dict[str, Any],
              now: datetime | None = None) -> CatalogItem:
    """Change an item's fields; a real change raises its revision (the town approves it again)."""
    item = item_in_view(session, user, item_id)
    community = session.get_one(Community, item.community_id)
    _check_edit(session, user, community)
    if item.retired_at is not None:
        raise ConflictError(Text("%(name)s is retired; it can no longer be changed.", name=item.name))
    fields = _checked_fields(values)
    _check_unique_name(session, item.community_id, item.year, fields["name"], item.id)
    changed = {name: value for name, value in fields.items() if getattr(item, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(item, name, value)
        item.revision += 1
        item.updated_by, item.updated_at = user.username, now or utcnow()
        audit.record(session, user.username, "catalog_item_edit", f"{community.code}/{item.code}", changed)
    return item


def retire_item(session: Session, user: User, item_id: int, now: datetime | None = None) -> CatalogItem:
    """No new project starts on the item; projects already on it go on."""
    item = item_in_view(session, user, item_id)
    community = session.get_one(Community, item.community_id)
    _check_edit(session, user, community)
    if item.retired_at is not None:
        raise ConflictError(Text("%(name)s is already retired.", name=item.name))
    item.retired_at, item.retired_by = now or utcnow(), user.username
    audit.record(session, user.username, "catalog_item_retire", f"{community.code}/{item.code}", {"name": item.name})
    return item


def remove_item(session: Session, user: User, item_id: int) -> None:
    """Delete an item entered by mistake; refused for an item any project uses."""
    item = item_in_view(session, user, item_id)
    community = session.get_one(Community, item.community_id)
    _check_edit(session, user, community)
    used = usage(session, [item.id]).get(item.id, 0)
    if used:
        raise ConflictError(Text("%(name)s is used by %(count)s projects and cannot be removed; retire it instead.",
                                 name=item.name, count=used))
    audit.record(session, user.username, "catalog_item_remove", f"{community.code}/{item.code}", {"name": item.name})
    session.delete(item)
    session.flush()


def copy_year(session: Session, user: User, community_id: int, from_year: int, to_year: int,
              now: datetime | None = None) -> list[CatalogItem]:
    """Start ``to_year``'s catalog with the items of ``from_year`` still open (not retired);
    the copies await approval. Refused when ``to_year`` already has items."""
    community = community_in_view(session, user, community_id)
    _check_edit(session, user, community)
    _checked_year(to_year)
    if session.scalar(select(CatalogItem.id).where(CatalogItem.community_id == community.id,
                                                   CatalogItem.year == to_year).limit(1)) is not None:
        raise ConflictError(Text("The %(year)s catalog already has items.", year=to_year))
    sources = list(session.scalars(select(CatalogItem).where(
        CatalogItem.community_id == community.id, CatalogItem.year == from_year,
        CatalogItem.retired_at.is_(None)).order_by(CatalogItem.code)))
    if not sources:
        raise ValidationError(Text("The %(year)s catalog has no items to carry over.", year=from_year))
    return [add_item(session, user, community.id, to_year, {name: getattr(source, name) for name in EDITABLE}, now)
            for source in sources]


def approve(session: Session, user: User, community_id: int, year: int, now: datetime | None = None) -> CatalogApproval:
    """The town approves the community's catalog of ``year`` as it stands: every item not
    retired, at its current revision. Refused when nothing awaits approval."""
    community = community_in_view(session, user, community_id)
    if not may_approve(session, user, community):
        raise ForbiddenError(Text("Only the government of the town approves the catalog of %(community)s.",
                                  community=community.name))
    items = list(session.scalars(select(CatalogItem).where(
        CatalogItem.community_id == community.id, CatalogItem.year == year,
        CatalogItem.retired_at.is_(None)).order_by(CatalogItem.code)))
    if not items:
        raise ValidationError(Text("The %(year)s catalog of %(community)s has no items to approve.",
                                   year=year, community=community.name))
    if all(item.approved_revision == item.revision for item in items):
        raise ConflictError(Text("Every item of this catalog is already approved as it stands."))
    for item in items:
        item.approved_revision = item.revision
    approval = CatalogApproval(community_id=community.id, year=year, approved_by=user.username,
                               approved_at=now or utcnow(),
                               items=[{"id": i.id, "code": i.code, "name": i.name, "revision": i.revision} for i in items])
    session.add(approval)
    session.flush()
    audit.record(session, user.username, "catalog_approve", f"{community.code}/{year}", {"items": len(items)})
    return approval


__all__ = ["ServiceField", "ItemState", "this_year", "open_condition", "check_open", "state_of", "may_edit", "may_approve",
           "may_view", "communities_for", "community_in_view", "Catalog", "CatalogRow", "catalog", "usage",
           "item_in_view", "add_item", "edit_item", "retire_item", "remove_item", "copy_year", "approve"]
