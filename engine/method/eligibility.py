"""Step 1: which social organizations may take on a catalog item.

The screening reads the register of organizations (engine.method.register): an
organization qualifies only if its registration status is active, its service fields cover
the item's service field, and it runs fewer projects than its limit of concurrent projects.
The screening lists, for every organization looked at, the reasons it does not qualify.
"""
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import NotFoundError, Text
from engine.core.models import CatalogItem, Community, Instance, Organization, RegistrationStatus


def running_projects(session: Session, organization_ids: Iterable[int],
                     exclude_instance_id: int | None = None) -> dict[int | None, int]:
    """{organization id: number of running project instances}."""
    query = (select(Instance.organization_id, func.count()).where(
        Instance.organization_id.in_(list(organization_ids)), Instance.status == "running")
        .group_by(Instance.organization_id))
    if exclude_instance_id is not None:
        query = query.where(Instance.id != exclude_instance_id)
    return dict(session.execute(query).all())


def covers(org: Organization, item: CatalogItem) -> bool:
    """Whether the organization's service fields include the catalog item's field (an
    organization that lists no fields covers none)."""
    return item.service_field in (org.service_fields or [])


def reasons_against(org: Organization, item: CatalogItem, running: int) -> list[str]:
    """Why ``org`` may not take ``item`` (an empty list when it may)."""
    reasons: list[str] = []
    if org.status == RegistrationStatus.UNREGISTERED:
        reasons.append("not registered")
    elif org.status != RegistrationStatus.ACTIVE:
        reasons.append("not active")
    if not covers(org, item):
        reasons.append(f"service fields {sorted(org.service_fields or [])} do not cover {item.service_field!r}")
    if running >= org.max_concurrent_projects:
        reasons.append(f"already runs {running} projects (limit {org.max_concurrent_projects})")
    return reasons


def reason_codes(org: Organization, item: CatalogItem, running: int) -> list[dict[str, Any]]:
    """The reasons of :func:`reasons_against` as facts a page can put in words:
    ``[{"code": "not_registered" | "not_active" | "fields" | "limit", ...}]``."""
    codes: list[dict[str, Any]] = []
    if org.status == RegistrationStatus.UNREGISTERED:
        codes.append({"code": "not_registered"})
    elif org.status != RegistrationStatus.ACTIVE:
        codes.append({"code": "not_active"})
    if not covers(org, item):
        codes.append({"code": "fields", "fields": sorted(org.service_fields or []), "field": item.service_field})
    if running >= org.max_concurrent_projects:
        codes.append({"code": "limit", "running": running, "limit": org.max_concurrent_projects})
    return codes


def screen(session: Session, catalog_item_id: int, organization_ids: Iterable[int] | None = None,
           exclude_instance_id: int | None = None) -> dict[str, Any]:
    """Screen organizations for a catalog item.

    ``organization_ids`` defaults to every organization of the item's town. The project
    being screened (``exclude_instance_id``) does not count against its own organization's
    limit. Returns ``{"item_id", "eligible_ids", "organizations": [{id, name, eligible, reasons}]}``.
    """
    item = session.get(CatalogItem, catalog_item_id)
    if item is None:
        raise NotFoundError(Text("No catalog item %(id)s.", id=catalog_item_id))
    if organization_ids is None:
        town_id = session.scalar(select(Community.town_id).where(Community.id == item.community_id))
        orgs = session.scalars(select(Organization).where(Organization.town_id == town_id).order_by(Organization.id)).all()
    else:
        orgs = session.scalars(select(Organization).where(Organization.id.in_(list(organization_ids)))
                               .order_by(Organization.id)).all()
    running = running_projects(session, [o.id for o in orgs], exclude_instance_id)
    rows: list[dict[str, Any]] = []
    for org in orgs:
        reasons = reasons_against(org, item, running.get(org.id, 0))
        rows.append({"id": org.id, "name": org.name, "eligible": not reasons, "reasons": reasons,
                     "reason_codes": reason_codes(org, item, running.get(org.id, 0))})
    return {"item_id": item.id, "service_field": item.service_field,
            "eligible_ids": [r["id"] for r in rows if r["eligible"]], "organizations": rows}


def screen_applicant(session: Session, catalog_item_id: int, applicant_id: int | None,
                     organization_ids: Iterable[int] | None = None,
                     exclude_instance_id: int | None = None) -> dict[str, Any]:
    """:func:`screen`, plus the applicant's own ``eligible`` and ``reasons`` (the applicant is
    screened even when ``organization_ids`` leaves it out)."""
    screening = screen(session, catalog_item_id, organization_ids, exclude_instance_id)
    row = next((r for r in screening["organizations"] if r["id"] == applicant_id), None)
    if row is None and applicant_id is not None:
        found = screen(session, catalog_item_id, [applicant_id], exclude_instance_id)["organizations"]
        if not found:
            raise NotFoundError(Text("No organization %(id)s.", id=applicant_id))
        row = found[0]
    return {**screening, "eligible": bool(row and row["eligible"]), "reasons": row["reasons"] if row else [],
            "reason_codes": row["reason_codes"] if row else [], "applicant_id": applicant_id}
