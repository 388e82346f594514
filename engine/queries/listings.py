"""Read-only queries behind the web pages: which instances a person may see, the
instance list with filters, an instance's timeline with step durations, the diagram's
active and completed elements, and the choices for filters and for starting a project.
"""
from dataclasses import dataclass, field
from datetime import timedelta, datetime
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.method import catalog, eligibility
from engine.core.access import grants_of, scope_condition as _scope_condition, scope_ids as _scope_ids, visible_instance
from engine.errors import NotFoundError
from engine.core.eventlog import instance_events
from engine.core.models import (
    CatalogItem, Community, Definition, Event, Instance, Job, Organization, RegistrationStatus, Task, Timer, Town,
    User,
)

INSTANCE_STATUSES = ("running", "completed", "terminated")


@dataclass
class InstanceRow:
    instance: Instance
    version: int
    process: str
    community_name: str
    organization_name: str


@dataclass
class InstanceList:
    rows: list[InstanceRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_instances(session: Session, user: User, status: str | None = None, community_id: int | None = None,
                   step: int | None = None, version: int | None = None, process: str | None = None,
                   page: int = 1, per_page: int = 25, town_id: int | None = None) -> InstanceList:
    """Instances in the user's scopes, newest first, with the filters applied."""
    conditions = [_scope_condition(session, user)]
    if status:
        conditions.append(Instance.status == status)
    if town_id:
        conditions.append(Instance.town_id == town_id)
    if community_id:
        conditions.append(Instance.community_id == community_id)
    if step:
        conditions.append(Instance.current_step == step)
    if version:
        conditions.append(Definition.version == version)
    if process:
        conditions.append(Definition.key == process)
    base = select(Instance.id).join(Definition, Definition.id == Instance.definition_id).where(*conditions)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(
        select(Instance, Definition.version, Definition.key, Community.name, Organization.name)
        .join(Definition, Definition.id == Instance.definition_id)
        .outerjoin(Community, Community.id == Instance.community_id)
        .outerjoin(Organization, Organization.id == Instance.organization_id)
        .where(*conditions)
        .order_by(Instance.started_at.desc(), Instance.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return InstanceList([InstanceRow(i, v, k, c or "", o or "") for i, v, k, c, o in rows], total, page, per_page)


@dataclass
class TimelineEntry:
    event: Event
    took: timedelta | None = None  # for a completion: time since the activity was scheduled


@dataclass
class Timeline:
    entries: list[TimelineEntry]
    step_durations: dict[int, timedelta] = field(default_factory=dict)
    active: list[str] = field(default_factory=list)  # BPMN ids of waiting tasks and jobs
    completed: list[str] = field(default_factory=list)  # BPMN ids of completed activities


def timeline(session: Session, instance: Instance, now: datetime | None = None) -> Timeline:
    """Who did what when, how long each activity and each step took."""
    events = instance_events(session, instance.id)
    scheduled, entries = {}, []
    first_by_step, last_by_step = {}, {}
    completed = []
    for event in events:
        took = None
        key = event.task_id or event.activity_id
        if event.transition == "schedule":
            scheduled.setdefault(key, event.ts)
        elif event.transition == "complete":
            if key in scheduled:
                took = event.ts - scheduled[key]
            if event.activity_type != "instance" and event.activity_id not in completed:
                completed.append(event.activity_id)
        if event.step:
            first_by_step.setdefault(event.step, event.ts)
            last_by_step[event.step] = event.ts
        entries.append(TimelineEntry(event, took))
    end = now if instance.status == "running" else None
    durations = {}
    for step, first in first_by_step.items():
        last = last_by_step[step]
        if end is not None and step == instance.current_step:
            last = max(last, end)
        durations[step] = last - first
    return Timeline(entries, dict(sorted(durations.items())), active_elements(session, instance.id), completed)


def active_elements(session: Session, instance_id: int) -> list[str]:
    tasks = session.scalars(select(Task.bpmn_id).where(Task.instance_id == instance_id, Task.state == "ready"))
    jobs = session.scalars(select(Job.bpmn_id).where(Job.instance_id == instance_id,
                                                     Job.state.in_(("ready", "locked", "waiting", "incident"))))
    return sorted(set(tasks) | set(jobs))


@dataclass(frozen=True)
class Incident:
    """Something the engine could not do on an instance and is waiting for a person:
    a job whose worker failed after every retry, or a timer whose firing failed."""
    kind: str  # "job" | "timer"
    id: int
    instance_id: int
    bpmn_id: str
    name: str
    error: str


def instance_incidents(session: Session, instance_id: int | None = None) -> list[Incident]:
    """Open incidents (of one instance, or all), jobs first, oldest first."""
    jobs = select(Job).where(Job.state == "incident").order_by(Job.id)
    timers = select(Timer).where(Timer.state == "incident").order_by(Timer.id)
    if instance_id is not None:
        jobs, timers = jobs.where(Job.instance_id == instance_id), timers.where(Timer.instance_id == instance_id)
    found = [Incident("job", j.id, j.instance_id, j.bpmn_id, j.name, j.error_message or "") for j in session.scalars(jobs)]
    for t in session.scalars(timers):
        name = session.scalar(select(Event.activity_name).where(Event.task_id == t.task_id).limit(1))
        found.append(Incident("timer", t.id, t.instance_id, t.bpmn_id, name or t.bpmn_id, t.error_message or ""))
    return found


def instance_tasks(session: Session, instance_id: int) -> list[Task]:
    """Every human-task activation of the instance, oldest first."""
    return list(session.scalars(select(Task).where(Task.instance_id == instance_id)
                                .order_by(Task.created_at, Task.id)))


def instance_of(session: Session, task: Task) -> Instance:
    """The instance a task (already checked as visible) belongs to."""
    instance = session.get(Instance, task.instance_id)
    if instance is None:
        raise NotFoundError("The task's project is missing.")
    return instance


def definition_of(session: Session, instance: Instance) -> Definition:
    definition = session.get(Definition, instance.definition_id)
    if definition is None:
        raise NotFoundError("The instance's process definition is missing.")
    return definition


def process_keys(session: Session) -> list[str]:
    return list(session.scalars(select(Definition.key).distinct().order_by(Definition.key)))


def process_names(session: Session) -> dict[str, str]:
    """``{key: name}`` of every deployed process, the newest version's name."""
    rows = session.execute(select(Definition.key, Definition.name).order_by(Definition.key, Definition.version))
    return {key: name or key for key, name in rows}


def definition_versions(session: Session) -> list[int]:
    return list(session.scalars(select(Definition.version).distinct().order_by(Definition.version)))


def towns_for(session: Session, user: User) -> list[Town]:
    """Towns the user sees projects of: all of them for administrators and the city bureau, else their own."""
    ids = _scope_ids(session, user)
    query = select(Town).order_by(Town.id)
    if "global" not in ids:
        query = query.where(Town.id.in_(ids.get("town", set()) | set(session.scalars(
            select(Community.town_id).where(Community.id.in_(ids.get("community", set())))))))
    return list(session.scalars(query))


def communities_for(session: Session, user: User) -> list[Community]:
    """Communities the user works with: their own, those of their towns, or all for admins."""
    ids = _scope_ids(session, user)
    query = select(Community).order_by(Community.name)
    if "global" not in ids:
        org_town_ids = set(session.scalars(select(Organization.town_id).where(
            Organization.id.in_(ids.get("organization", set())))))
        query = query.where(or_(Community.id.in_(ids.get("community", set())),
                                Community.town_id.in_(ids.get("town", set()) | org_town_ids)))
    return list(session.scalars(query))


def organizations_for(session: Session, user: User) -> list[Organization]:
    ids = _scope_ids(session, user)
    query = select(Organization).order_by(Organization.name)
    if "global" not in ids:
        town_ids = ids.get("town", set()) | set(session.scalars(select(Community.town_id).where(
            Community.id.in_(ids.get("community", set())))))
        query = query.where(or_(Organization.id.in_(ids.get("organization", set())), Organization.town_id.in_(town_ids)))
    return list(session.scalars(query))


def startable_items(session: Session, user: User,
                    year: int | None = None) -> list[tuple[Organization, CatalogItem, Community]]:
    """(organization, catalog item, community) a social-organization user may start a project on.

    The items open in ``year`` (default: this year; see :func:`catalog.open_condition`) of
    the communities in the organization's town whose service field the organization covers,
    by the same rule as step 1's eligibility screening (none when it lists no fields); the
    screening decides the rest (project limit). Only organizations in good standing start.
    """
    year = year or catalog.this_year()
    org_ids = sorted({sid for role, st, sid in grants_of(session, user) if role == "social_organization"})
    result = []
    for org in session.scalars(select(Organization).where(Organization.id.in_(org_ids),
                                                          Organization.status == RegistrationStatus.ACTIVE)
                               .order_by(Organization.name)):
        query = (select(CatalogItem, Community).join(Community, Community.id == CatalogItem.community_id)
                 .where(catalog.open_condition(year)).order_by(Community.name, CatalogItem.code))
        if org.town_id is not None:
            query = query.where(Community.town_id == org.town_id)
        for item, community in session.execute(query):
            if eligibility.covers(org, item):
                result.append((org, item, community))
    return result


def project_for(session: Session, user: User, organization_id: int | None, catalog_item_id: int | None, title: str,
                year: int | None = None) -> dict[str, Any]:
    """The ``project`` start variable for a catalog item picked on the start page."""
    choice = next(((o, i, c) for o, i, c in startable_items(session, user, year)
                   if o.id == organization_id and i.id == catalog_item_id), None)
    if choice is None:
        raise NotFoundError("This service item is not open to your organization.")
    org, item, community = choice
    return {
        "title": title or item.name, "town_id": community.town_id, "community_id": community.id,
        "organization_id": org.id, "catalog_item_id": item.id, "social_work": bool(item.social_work),
        "lead": user.username, "organization_name": org.name, "community_name": community.name,
        "item_name": item.name,
    }


def scope_names(session: Session) -> dict[tuple[str, int], str]:
    """{(scope_type, id): name} for towns, communities and organizations (for labels)."""
    names = {("global", 0): ""}
    for model, scope_type in ((Town, "town"), (Community, "community"), (Organization, "organization")):
        for row_id, name in session.execute(select(model.id, model.name)):
            names[(scope_type, row_id)] = name
    return names


def place_names(session: Session) -> dict[tuple[str, int | str], str]:
    """The names of towns, communities and organizations by ``(kind, id)`` and by
    ``(kind, code)`` (the audit log names its objects by either)."""
    names: dict[tuple[str, int | str], str] = {}
    for model, kind in ((Town, "town"), (Community, "community"), (Organization, "organization")):
        for row_id, code, name in session.execute(select(model.id, model.code, model.name)):
            names[(kind, row_id)] = names[(kind, code)] = name
    return names


def display_names(session: Session, usernames: Iterable[str | None]) -> dict[str, str]:
    usernames = {u for u in usernames if u}
    if not usernames:
        return {}
    return dict(session.execute(select(User.username, User.display_name).where(User.username.in_(usernames))).all())


__all__ = ["INSTANCE_STATUSES", "visible_instance", "list_instances", "timeline", "instance_tasks", "towns_for",
           "definition_of", "process_keys", "process_names", "definition_versions", "communities_for", "organizations_for",
           "startable_items", "project_for", "scope_names", "place_names", "display_names"]
