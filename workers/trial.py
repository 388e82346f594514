"""A trial run (试运行) of a draft diagram in a sandbox, before it is deployed: what it met,
what it covered, and the helpers its sandbox (``workers.trial_sandbox``) runs on.

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
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lxml import etree
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine.core.access import get_user
from engine.core.db import copy_tables
from engine.core.models import Task, User
from engine.queries import listings
from engine.queries import trial as trial_queries

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
    """A task the trial met: where it landed and who completed it (``by_hand``: with data
    the administrator typed)."""

    bpmn_id: str
    name: str
    role: str | None
    scope: str
    people: list[str]
    done_by: str = ""
    task_id: str = ""
    by_hand: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Branch:
    """One way out of a gateway, and whether the trial took it."""

    flow_id: str
    label: str
    taken: bool


@dataclass
class TrialReport:
    """What the trial run did and covered."""

    status: str = ""
    tasks: list[TrialTask] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    timers: list[tuple[str, int, str]] = field(default_factory=list)  # (due, timers fired, element name)
    covered: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # kind -> [(id, name)]
    missed: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    problem: str = ""  # a Text, shown in the user's language
    decisions: list[dict[str, Any]] = field(default_factory=list)  # decision_fields with the value used
    messages: list[str] = field(default_factory=list)  # sent by the administrator
    branches: dict[tuple[str, str], list[Branch]] = field(default_factory=dict)  # (gateway id, name) -> ways out

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


def element_names(bpmn_xml: str) -> dict[str, str]:
    """``{element id: name}`` of the diagram's elements (the id when it has no name)."""
    root = etree.fromstring(bpmn_xml.encode("utf-8"))
    return {e.get("id") or "": e.get("name") or e.get("id") or "" for e in root.iter(f"{{{BPMN}}}*") if e.get("id")}


def message_events(bpmn_xml: str) -> dict[str, str]:
    """``{message name: name of the element that waits for it}`` for the diagram's message
    catch events (intermediate, boundary, start of an event subprocess, receive tasks)."""
    root = etree.fromstring(bpmn_xml.encode("utf-8"))
    messages = {m.get("id"): m.get("name") or m.get("id") for m in root.iter(f"{{{BPMN}}}message")}
    waiting = {}
    for definition in root.iter(f"{{{BPMN}}}messageEventDefinition"):
        event = definition.getparent()
        if event is not None and etree.QName(event).localname in ("intermediateCatchEvent", "boundaryEvent", "startEvent"):
            name = messages.get(definition.get("messageRef"))
            if name:
                waiting.setdefault(name, event.get("name") or event.get("id") or name)
    for task in root.iter(f"{{{BPMN}}}receiveTask"):
        name = messages.get(task.get("messageRef"))
        if name:
            waiting.setdefault(name, task.get("name") or task.get("id") or name)
    return waiting


def copy_master_data(source: Engine, target: Engine) -> None:
    """Copy the master tables' rows from ``source`` into the empty sandbox ``target``."""
    copy_tables(source, target, MASTER_TABLES)


def steer(form: dict[str, Any], choices: dict[str, Any]) -> dict[str, Any]:
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


def timer_decisions(bpmn_xml: str) -> list[dict[str, Any]]:
    """A choice per task with a timer on its boundary: done in time, or left until it expires."""
    root = etree.fromstring(bpmn_xml.encode("utf-8"))
    names = {e.get("id"): e.get("name") or e.get("id") for e in root.iter(f"{{{BPMN}}}*")}
    attached = sorted({e.get("attachedToRef") or "" for e in root.iter(f"{{{BPMN}}}boundaryEvent")
                       if e.find(f"{{{BPMN}}}timerEventDefinition") is not None and e.get("attachedToRef")})
    return [{"name": f"timer:{task_id}", "title": names.get(task_id) or task_id, "timer": True,
             "options": [(False, "按时办理"), (True, "不办理，等到期限已过")]} for task_id in attached]


def administrator(session: Session) -> User:
    """An administrator of the sandbox (who sends a message when no one else is named)."""
    for user in trial_queries.holders(session, "administrator"):
        return user
    raise LookupError("the sandbox has no administrator")


def starter(session: Session) -> tuple[User, dict[str, Any]]:
    """A person of a social organization and the project they may start (an open catalog item)."""
    for user in trial_queries.holders(session, "social_organization"):
        for org, item, _community in listings.startable_items(session, user):
            return user, listings.project_for(session, user, org.id, item.id, "试运行项目")
    raise LookupError("no organization may start a project on an open catalog item")


def landing(session: Session, task: Task) -> TrialTask:
    """Whose inbox ``task`` lands in: its role and scope, and up to three of those people."""
    names = trial_queries.holder_names(session, task.role, task.scope_type, task.scope_id, limit=3)
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


def coverage(report: TrialReport, xml: str, activities: set[str], passed: set[tuple[str, str]]) -> None:
    """Sort the draft's elements into covered and missed. A flow is covered when the project
    went from its source to its target (``passed``: element id pairs); a task or an event
    when the event log names it or a covered flow leads to it; a gateway when a covered flow
    leaves or enters it. Each gateway with more than one way out lists which it took."""
    root = etree.fromstring(xml.encode("utf-8"))
    nodes = {e.get("id") or "": e for e in root.iter(f"{{{BPMN}}}*") if etree.QName(e).localname in NODE_TYPES}
    flows = list(root.iter(f"{{{BPMN}}}sequenceFlow"))
    taken = {f.get("id") for f in flows if (f.get("sourceRef"), f.get("targetRef")) in passed}
    covered = {i for i in nodes if i in activities}
    covered |= {i for i, e in nodes.items() if etree.QName(e).localname == "startEvent" and _in_process(e)}
    for flow in flows:
        if flow.get("id") in taken:
            covered |= {flow.get("sourceRef") or "", flow.get("targetRef") or ""}
    kinds = {"task": ("Task", "callActivity", "subProcess"), "event": ("Event",), "gateway": ("Gateway",)}
    for node_id, element in nodes.items():
        local = etree.QName(element).localname
        kind = next(k for k, endings in kinds.items() if any(local.endswith(x) or local == x for x in endings))
        bucket = report.covered if node_id in covered else report.missed
        bucket.setdefault(kind, []).append((node_id, _name_of(element)))
        outgoing = [f for f in flows if f.get("sourceRef") == node_id]
        if kind == "gateway" and local != "parallelGateway" and len(outgoing) > 1:  # a decision
            report.branches[(node_id, _name_of(element))] = [
                Branch(f.get("id") or "", f.get("name") or _name_of(nodes.get(f.get("targetRef") or "")),
                       f.get("id") in taken) for f in outgoing]
    for flow in flows:
        bucket = report.covered if flow.get("id") in taken else report.missed
        bucket.setdefault("flow", []).append((flow.get("id") or "", _flow_label(flow, nodes)))


def _flow_label(flow: Any, nodes: dict[str, Any]) -> str:
    """A flow in words: its name, else "source → target" by the elements' names."""
    if flow.get("name"):
        return flow.get("name")
    return " → ".join(_name_of(nodes.get(flow.get(ref) or "")) for ref in ("sourceRef", "targetRef"))


def _name_of(element: Any) -> str:
    """An element's name; an unnamed one as ``@``, its kind and its id
    (``@parallelGateway#Gateway_1``), which the report puts in words."""
    if element is None:
        return "?"
    if element.get("name"):
        return element.get("name")
    kind = f"@{etree.QName(element).localname}"
    return f"{kind}#{element.get('id')}" if element.get("id") else kind
