"""What lies ahead of a running instance, and what a newer version changes there.

A migration preview names, per instance, what it will meet if it moves: tasks the new
version adds on the way still ahead of it, tasks it would have met and the new version
removed, parameters and properties changed on that way (old → new), and forms changed.
"Ahead" is read from the diagrams: everything reachable along sequence flows from where the
instance waits (a boundary event belongs to its task, a subprocess to everything inside it).
"""
import json
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}
# Elements an administrator recognises as a stop on the way.
STOPS = {"userTask", "manualTask", "serviceTask", "scriptTask", "task", "callActivity", "subProcess",
         "sendTask", "receiveTask", "businessRuleTask", "intermediateCatchEvent", "boundaryEvent"}
# Properties of a task that change what people meet.
PROPERTIES = ("formJsonSchemaFilename", "dueIn", "dueInWorkingDays", "step")


@dataclass(frozen=True)
class Change:
    """One thing an instance will meet differently: ``kind`` is ``added``, ``removed``,
    ``parameter``, ``property``, ``topic`` or ``form``; ``name`` the parameter, property or
    form; ``old`` and ``new`` its values."""

    kind: str
    element_id: str
    element_name: str
    name: str = ""
    old: str | None = None
    new: str | None = None


@dataclass
class Preview:
    """What one instance meets ahead of it on the new version."""

    changes: list[Change] = field(default_factory=list[Change])

    def of(self, kind: str) -> list[Change]:
        """The changes of one ``kind``."""
        return [c for c in self.changes if c.kind == kind]


class _Diagram:
    def __init__(self, xml: str | bytes) -> None:
        self.root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
        self.by_id = {_attr(e, "id"): e for e in self.root.iter(f"{{{BPMN}}}*") if e.get("id")}
        self.next: dict[str, set[str]] = {}
        for flow in self.root.iter(f"{{{BPMN}}}sequenceFlow"):
            self.next.setdefault(_attr(flow, "sourceRef"), set()).add(_attr(flow, "targetRef"))
        for event in self.root.iter(f"{{{BPMN}}}boundaryEvent"):
            self.next.setdefault(_attr(event, "attachedToRef"), set()).add(_attr(event, "id"))
        for container in self.root.iter(f"{{{BPMN}}}subProcess", f"{{{BPMN}}}adHocSubProcess",
                                        f"{{{BPMN}}}transaction"):
            inside = {_attr(c, "id") for c in container if isinstance(c.tag, str) and c.get("id")}
            after = set(self.next.get(_attr(container, "id"), ()))
            self.next.setdefault(_attr(container, "id"), set()).update(inside)
            for element_id in inside:  # what is inside ends, and the way goes on after the subprocess
                self.next.setdefault(element_id, set()).update(after)

    def ahead(self, starts: set[str]) -> set[str]:
        """The ids reachable from ``starts`` (themselves included)."""
        seen: set[str] = set()
        todo = [s for s in starts if s in self.by_id]
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            todo.extend(self.next.get(node, ()))
        return seen

    def stop(self, element_id: str) -> bool:
        element = self.by_id.get(element_id)
        return element is not None and etree.QName(element).localname in STOPS

    def name(self, element_id: str) -> str:
        element = self.by_id.get(element_id)
        return (element.get("name") or element_id) if element is not None else element_id

    def properties(self, element_id: str) -> dict[str, str]:
        element = self.by_id[element_id]
        return {_attr(p, "name"): p.get("value") or "" for p in element.iterfind(
            "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}

    def operator(self, element_id: str) -> tuple[str | None, dict[str, str]]:
        operator = self.by_id[element_id].find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
        if operator is None:
            return None, {}
        return operator.get("id"), {_attr(p, "id"): p.get("value") or "" for p in operator.iterfind(
            "spiffworkflow:parameters/spiffworkflow:parameter", NS)}


def preview(old_xml: str, new_xml: str, old_forms: dict[str, Any], new_forms: dict[str, Any], waiting_at: set[str]) -> Preview:
    """What an instance waiting at ``waiting_at`` (element ids) meets ahead of it when it
    moves from the old version to the new one."""
    old, new = _Diagram(old_xml), _Diagram(new_xml)
    ahead_old, ahead_new = old.ahead(waiting_at), new.ahead(waiting_at)
    result = Preview()
    for element_id in sorted(ahead_new - set(old.by_id)):
        if new.stop(element_id):
            result.changes.append(Change("added", element_id, new.name(element_id)))
    for element_id in sorted(ahead_old - set(new.by_id)):
        if old.stop(element_id):
            result.changes.append(Change("removed", element_id, old.name(element_id)))
    forms_seen: set[str] = set()
    for element_id in sorted(ahead_new & set(old.by_id)):
        if not new.stop(element_id):
            continue
        name = new.name(element_id)
        old_props, new_props = old.properties(element_id), new.properties(element_id)
        for prop in PROPERTIES:
            if old_props.get(prop) != new_props.get(prop):
                result.changes.append(Change("property", element_id, name, prop, old_props.get(prop),
                                             new_props.get(prop)))
        old_topic, old_params = old.operator(element_id)
        new_topic, new_params = new.operator(element_id)
        if old_topic != new_topic:
            result.changes.append(Change("topic", element_id, name, "topic", old_topic, new_topic))
        for param in sorted(set(old_params) | set(new_params)):
            if old_params.get(param) != new_params.get(param):
                result.changes.append(Change("parameter", element_id, name, param, old_params.get(param),
                                             new_params.get(param)))
        form = new_props.get("formJsonSchemaFilename")
        if form and form not in forms_seen and form == old_props.get("formJsonSchemaFilename") \
                and _canonical(old_forms.get(form)) != _canonical(new_forms.get(form)):
            forms_seen.add(form)
            result.changes.append(Change("form", element_id, name, form))
    return result


def _attr(element: Any, name: str) -> str:
    return element.get(name) or ""


def _canonical(form: object) -> str:
    return json.dumps(form, sort_keys=True, ensure_ascii=False)
