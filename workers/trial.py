"""A trial run (试运行) of a draft diagram in a sandbox, before it is deployed.

The sandbox is a database of its own (a SQLite file in a temporary folder) holding a copy of
the master data (towns, communities, organizations, people and their roles, the catalog,
budgets) and nothing else. The draft is deployed there, one project is started by a person
of a social organization on an open catalog item, and it is driven as its people would: each
task is completed by someone who holds the task's lane role in its scope, with data made
from the task's form (``choices`` steer the decisions; by default the happy path);
the real worker handlers run the service tasks against the copy; when the project only waits
for a timer, the sandbox clock is moved to it. Nothing of the real database is written.

The report lists every task met (whose inbox it landed in: role, scope and example people),
and which tasks, events, gateways and flows of the draft were covered and which were not.
"""
import copy
import re
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from engine.config import Settings, load_settings
from engine.core.access import get_user
from engine.core.db import unit_of_work, upgrade_schema
from engine.core.deployments import deploy
from engine.core.jobs import JobQueue
from engine.errors import Text
from engine.core.models import Base, Event, RoleGrant, Task, Timer, User, utcnow
from engine.method.driver import actor_for, default_choices, fill, instance_status, ready_tasks
from engine.queries import listings
from engine.wiring import build_services

from .demo import SimClock
from .registry import TOPICS
from .worker import Worker

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
# What a sandbox copies: who is who and what may be bought, not anything that runs.
MASTER_TABLES = ("towns", "users", "communities", "organizations", "role_grants", "affiliations",
                 "organization_branches", "catalog_items", "catalog_approvals", "budgets", "budget_changes")
NODE_TYPES = {"userTask", "manualTask", "serviceTask", "scriptTask", "task", "callActivity", "subProcess",
              "sendTask", "receiveTask", "businessRuleTask", "startEvent", "endEvent", "boundaryEvent",
              "intermediateCatchEvent", "intermediateThrowEvent", "exclusiveGateway", "inclusiveGateway",
              "parallelGateway", "eventBasedGateway"}
MAX_STEPS = 400


@dataclass
class TrialTask:
    """A task the trial met: where it landed and who completed it."""

    bpmn_id: str
    name: str
    role: str | None
    scope: str
    people: list[str]
    done_by: str = ""


@dataclass
class TrialReport:
    """What the trial run did and covered."""

    status: str = ""
    tasks: list[TrialTask] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    timers: list[str] = field(default_factory=list)
    covered: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # kind -> [(id, name)]
    missed: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    problem: str = ""  # a Text, shown in the user's language
    decisions: list[dict[str, Any]] = field(default_factory=list)  # decision_fields with the value used

    def share(self) -> tuple[int, int]:
        """``(covered, all)`` elements."""
        covered = sum(len(v) for v in self.covered.values())
        return covered, covered + sum(len(v) for v in self.missed.values())


def decision_fields(bpmn_xml: str, forms: dict[str, Any]) -> list[dict[str, Any]]:
    """The form fields that steer the draft: choices (an ``enum``) and yes/no fields whose
    name a condition or script of the diagram reads. ``[{name, title, options: [(value, title)]}]``."""
    root = etree.fromstring(bpmn_xml.encode("utf-8"))
    code = " ".join(node.text or "" for node in root.iter(
        f"{{{BPMN}}}conditionExpression", f"{{{BPMN}}}script", f"{{{SPIFF}}}postScript", f"{{{SPIFF}}}preScript"))
    used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))
    fields: dict[str, dict[str, Any]] = {}
    for schema in forms.values():
        for name, prop in ((schema or {}).get("properties") or {}).items():
            if name not in used or name in fields:
                continue
            if "enum" in prop:
                titles = prop.get("x-enum-titles") or [str(v) for v in prop["enum"]]
                fields[name] = {"name": name, "title": prop.get("title", name), "options":
                                [(v, titles[i] if i < len(titles) else str(v)) for i, v in enumerate(prop["enum"])]}
            elif prop.get("type") == "boolean":
                fields[name] = {"name": name, "title": prop.get("title", name), "options": [(True, "是"), (False, "否")]}
    return list(fields.values())


def copy_master_data(source: Engine, target: Engine) -> None:
    """Copy the master tables' rows from ``source`` into the empty sandbox ``target``."""
    tables = [t for t in Base.metadata.sorted_tables if t.name in MASTER_TABLES]
    with source.connect() as read, target.begin() as write:
        for table in tables:
            rows = [dict(row._mapping) for row in read.execute(select(table))]
            if rows:
                write.execute(insert(table), rows)


def run_trial(source: Engine, bpmn_files: dict[str, str], forms: dict[str, Any], choices: dict[str, Any] | None = None,
              settings: Settings | None = None) -> TrialReport:
    """Run the draft once in a fresh sandbox with a copy of ``source``'s master data."""
    with tempfile.TemporaryDirectory(prefix="sanshe-trial-") as folder:
        sandbox_settings = copy.copy(settings or load_settings())
        sandbox_settings.database_url = f"sqlite:///{Path(folder) / 'trial.db'}"
        clock = SimClock(utcnow())
        services = build_services(sandbox_settings, clock=clock)
        try:
            upgrade_schema(services.db)
            copy_master_data(source, services.db)
            steering = {**default_choices(), "application_budget_total": 40000}
            report = _drive(services, clock, bpmn_files, forms, steering, dict(choices or {}))
            steering.update(choices or {})
            for xml in bpmn_files.values():
                for decision in decision_fields(xml, forms) + timer_decisions(xml):
                    options = [value for value, _title in decision["options"]]
                    chosen = steering.get(decision["name"], options[0] if options else None)
                    report.decisions.append({**decision, "chosen": chosen if not callable(chosen) else options[0]})
            return report
        finally:
            services.db.dispose()


def _drive(services, clock, bpmn_files, forms, choices, overrides) -> TrialReport:
    """Drive the one project; ``overrides`` (the administrator's decisions) hold for the
    first round of the task that asks them (all ballots of one vote, say), then the happy
    path's ``choices`` take over, so that a way back in the diagram is taken once."""
    report = TrialReport()
    runtime = services.runtime
    with unit_of_work(services.session_factory) as session:
        [(definition, _created)] = deploy(session, runtime.spec_cache, bpmn_files, forms, "trial")
        key, xml = definition.key, definition.bpmn_xml
        starter, project = _starter(session)
        instance_id = runtime.start_instance(session, key, starter, project).id
    queue = JobQueue(services.settings, runtime, clock=clock)
    worker = Worker(services.session_factory, queue, TOPICS, "trial-worker", max_jobs=10, poll_seconds=0.01)
    seen: set[str] = set()
    used_by: dict[str, str] = {}
    for _ in range(MAX_STEPS):
        worker.run(until_idle=True)
        with unit_of_work(services.session_factory, readonly=True) as session:
            tasks = ready_tasks(session, instance_id)
            status = instance_status(session, instance_id)
            next_timer = session.scalar(select(func.min(Timer.due_at)).where(
                Timer.instance_id == instance_id, Timer.state == "waiting"))
        if status != "running":
            break
        expiring = [t for t in tasks if overrides.get(f"timer:{t.bpmn_id}") is True]
        if expiring and next_timer is not None:
            # The administrator lets this task's time run out: move the clock to its timer.
            overrides.pop(f"timer:{expiring[0].bpmn_id}")  # once
            report.tasks.append(_landing_of(services, expiring[0]))
            tasks = []
        if not tasks:
            if next_timer is None:
                report.problem = Text("the project waits for something the trial cannot do (a message or a failed job)")
                break
            clock.now = max(clock.now, next_timer) + timedelta(seconds=1)
            with unit_of_work(services.session_factory) as session:
                fired = runtime.fire_due_timers(session)
            report.timers.append(f"{next_timer:%Y-%m-%d %H:%M} ({fired})")
            continue
        task = tasks[0]
        with unit_of_work(services.session_factory) as session:
            actor = actor_for(session, task)
            met = _landing(session, task)
            if actor is None:
                report.tasks.append(met)
                report.problem = Text("nobody holds the role %(role)s where %(task)s lands", role=task.role or "",
                                      task=task.name)
                break
            form = runtime.task_form(session, task.id, actor)
            asked = set(form.get("properties") or {})
            active = {k: v for k, v in overrides.items() if k in asked}
            runtime.complete_task(session, task.id, actor, fill(form, {**_steer(form, choices), **active}))
            for name in active:
                used_by[name] = task.bpmn_id
            for name, bpmn_id in list(used_by.items()):
                if bpmn_id != task.bpmn_id:  # its round is over
                    overrides.pop(name, None)
                    del used_by[name]
            met.done_by = actor.display_name or actor.username
            if task.id not in seen:
                report.tasks.append(met)
                seen.add(task.id)
        clock.now += timedelta(hours=1)
    with unit_of_work(services.session_factory, readonly=True) as session:
        report.status = instance_status(session, instance_id) or ""
        activities = set(session.scalars(select(Event.activity_id).where(Event.instance_id == instance_id)))
        report.services = sorted(set(session.scalars(
            select(Event.activity_name).where(Event.instance_id == instance_id, Event.activity_type == "serviceTask"))))
    _coverage(report, xml, activities)
    return report


def _steer(form: dict[str, Any], choices: dict[str, Any]) -> dict[str, Any]:
    """``choices`` for this form: a pick of people (a list of offered names) takes the first
    three offered, whoever the sandbox's people are."""
    steered = dict(choices)
    for name, prop in (form.get("properties") or {}).items():
        offered = (prop.get("items") or {}).get("enum") if prop.get("type") == "array" else None
        if offered:
            steered[name] = list(offered[:max(3, prop.get("minItems", 1))])
            if name == "panel_members":
                steered["panel_member_categories"] = [{"username": n, "category": "expert"} for n in steered[name]]
    return steered


def _landing_of(services, task: Task) -> TrialTask:
    with unit_of_work(services.session_factory, readonly=True) as session:
        return _landing(session, task)


def timer_decisions(bpmn_xml: str) -> list[dict[str, Any]]:
    """A choice per task with a timer on its boundary: done in time, or left until it expires."""
    root = etree.fromstring(bpmn_xml.encode("utf-8"))
    names = {e.get("id"): e.get("name") or e.get("id") for e in root.iter(f"{{{BPMN}}}*")}
    attached = sorted({e.get("attachedToRef") or "" for e in root.iter(f"{{{BPMN}}}boundaryEvent")
                       if e.find(f"{{{BPMN}}}timerEventDefinition") is not None and e.get("attachedToRef")})
    return [{"name": f"timer:{task_id}", "title": f"{names.get(task_id) or task_id}（期限）", "timer": True,
             "options": [(False, "按时办理"), (True, "不办理，等到期限已过")]} for task_id in attached]


def _starter(session: Session) -> tuple[User, dict[str, Any]]:
    """A person of a social organization and the project they may start (an open catalog item)."""
    users = session.scalars(select(User).join(RoleGrant, RoleGrant.user_id == User.id)
                            .where(RoleGrant.role == "social_organization", User.active.is_(True)).order_by(User.id))
    for user in users:
        for org, item, _community in listings.startable_items(session, user):
            return user, listings.project_for(session, user, org.id, item.id, "试运行项目")
    raise LookupError("no organization may start a project on an open catalog item")


def _landing(session: Session, task: Task) -> TrialTask:
    """Whose inbox ``task`` lands in: its role and scope, and up to three of those people."""
    names = list(session.scalars(
        select(User.display_name).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == task.role, RoleGrant.scope_type == task.scope_type,
               RoleGrant.scope_id == task.scope_id, User.active.is_(True)).order_by(User.id).limit(3)))
    if task.assignee:
        assignee = get_user(session, task.assignee)
        names = [assignee.display_name or assignee.username]
    scopes = listings.scope_names(session)
    scope = scopes.get((task.scope_type, task.scope_id), f"{task.scope_type} {task.scope_id}")
    return TrialTask(task.bpmn_id, task.name, task.role, scope, names)


def _in_process(element: Any) -> bool:
    """Whether ``element`` sits directly in a process (not in a subprocess)."""
    parent = element.getparent()
    return parent is not None and etree.QName(parent).localname == "process"


def _coverage(report: TrialReport, xml: str, activities: set[str]) -> None:
    """Sort the draft's elements into covered and missed: tasks and events by the event log;
    a gateway by a covered element before and after it; a flow by both its ends."""
    root = etree.fromstring(xml.encode("utf-8"))
    nodes = {e.get("id") or "": e for e in root.iter(f"{{{BPMN}}}*") if etree.QName(e).localname in NODE_TYPES}
    flows = list(root.iter(f"{{{BPMN}}}sequenceFlow"))
    covered = {i for i in nodes if i in activities}
    covered |= {i for i, e in nodes.items() if etree.QName(e).localname == "startEvent" and _in_process(e)}
    changed = True
    while changed:  # gateways and events the log does not name, between covered elements
        changed = False
        for node_id, element in nodes.items():
            if node_id in covered:
                continue
            before = {f.get("sourceRef") for f in flows if f.get("targetRef") == node_id}
            after = {f.get("targetRef") for f in flows if f.get("sourceRef") == node_id}
            if before & covered and (after & covered or not after):
                covered.add(node_id)
                changed = True
    kinds = {"task": ("Task", "callActivity", "subProcess"), "event": ("Event",), "gateway": ("Gateway",)}
    for node_id, element in nodes.items():
        local = etree.QName(element).localname
        kind = next(k for k, endings in kinds.items() if any(local.endswith(x) or local == x for x in endings))
        bucket = report.covered if node_id in covered else report.missed
        bucket.setdefault(kind, []).append((node_id, element.get("name") or node_id))
    for flow in flows:
        bucket = report.covered if {flow.get("sourceRef"), flow.get("targetRef")} <= covered else report.missed
        bucket.setdefault("flow", []).append((flow.get("id") or "", flow.get("name") or ""))



