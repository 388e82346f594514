"""Checks of a diagram's structure: ids, start events, element types the engine runs,
references that point nowhere, gateway conditions, and events SpiffWorkflow cannot run.

Most of these problems make SpiffWorkflow fail in confusing ways, so they are reported as
structural (see :class:`~engine.core.validation.findings.Report`).
"""
from collections.abc import Collection
from typing import Any, Protocol

from engine.core import spiff
from engine.core.bpmn import BPMN, NS, Element, Tree, descendants, local_name, namespace, owner, xpath
from engine.core.validation.findings import Report
from engine.errors import Text

# Children of a process that are not flow nodes and need no parser class.
NON_NODES = {
    "sequenceFlow", "laneSet", "dataObject", "dataObjectReference", "dataStoreReference",
    "ioSpecification", "textAnnotation", "association", "group", "extensionElements",
    "documentation", "property", "auditing", "monitoring", "dataInputAssociation",
    "dataOutputAssociation", "standardLoopCharacteristics", "multiInstanceLoopCharacteristics",
    "incoming", "outgoing",
}
CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")
# SpiffWorkflow names internal task specs like this; an element with such an id replaces
# them and the process silently does nothing.
RESERVED_IDS = {"Start", "End", "Root"}
# Flow nodes of BPMN 2.0: any other child of a process is not a step of it.
FLOW_NODES = {
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess", "startEvent", "endEvent", "boundaryEvent",
    "intermediateCatchEvent", "intermediateThrowEvent", "implicitThrowEvent", "exclusiveGateway",
    "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
}
# Event definitions SpiffWorkflow 3.2 cannot run.
UNSUPPORTED_EVENT_DEFINITIONS = {"compensateEventDefinition"}


class _ParserClasses(Protocol):
    """SpiffWorkflow's BPMN parser's classes for each tag (the library has no type hints)."""

    PARSER_CLASSES: dict[str, Any]
    OVERRIDE_PARSER_CLASSES: dict[str, Any]


def _supported_nodes(parser: type[_ParserClasses]) -> set[str]:
    """The flow node types ``parser`` knows (local names of the tags it has classes for)."""
    return {tag.rpartition("}")[2] for tag in [*parser.PARSER_CLASSES, *parser.OVERRIDE_PARSER_CLASSES]}


# Flow node types the engine's parser knows.
SUPPORTED_NODES = _supported_nodes(spiff.SanshePythonParser)


def check_ids(report: Report, tree: Tree) -> None:
    """Ids are unique and none is one the engine reserves."""
    seen: dict[str, int | None] = {}
    # Only BPMN elements: spiffworkflow:parameter/serviceTaskOperator ids are names, not ids.
    for element in tree.getroot().iter(f"{{{BPMN}}}*"):
        element_id = element.get("id")
        if element_id is None:
            continue
        if element_id in RESERVED_IDS:
            report.add(element, Text("the id '%(id)s' is reserved by the engine; rename it", id=element_id),
                       structural=True)
        if element_id in seen:
            report.add(element, Text("id '%(id)s' is used twice (first on line %(line)s)", id=element_id,
                                     line=seen[element_id]), structural=True)
        seen.setdefault(element_id, element.sourceline)


def check_container(report: Report, container: Element) -> None:
    """A process or subprocess has a start event and only elements the engine runs (the
    subprocesses in it too)."""
    local = [(c, local_name(c)) for c in container if isinstance(c.tag, str) and namespace(c) == BPMN]
    kind = local_name(container)
    starts = [c for c, n in local if n == "startEvent"]
    if kind == "adHocSubProcess":
        # Its tasks start by themselves: it has, and may have, no start or end event.
        for child, name in local:
            if name in ("startEvent", "endEvent"):
                report.add(child, Text("an ad-hoc subprocess may not contain start or end events"), structural=True)
    elif container.get("triggeredByEvent") != "true" and not starts:
        message = (Text("the process has no start event") if kind == "process"
                   else Text("the subprocess has no start event"))
        report.add(container, message, structural=True)
    for child, name in local:
        if name in CONTAINERS:
            check_container(report, child)
        elif name in FLOW_NODES and name not in SUPPORTED_NODES:
            report.add(child, Text("element type bpmn:%(type)s is not supported by the engine", type=name),
                       structural=True)
        elif name not in FLOW_NODES and name not in NON_NODES:
            # Not a step of the process: the engine reads past it. Named by the element
            # around it when it has no id of its own.
            element = child if child.get("id") else container
            report.add(element, Text("bpmn:%(type)s is ignored by the engine", type=name), severity="warning",
                       line=child.sourceline)


def check_flows(report: Report, process: Element, process_ids: Collection[str]) -> None:
    """Flows, boundary events, defaults, call activities and lanes refer to elements that
    exist (``process_ids``: the processes of every uploaded diagram)."""
    ids = {element_id for e in process.iter() if isinstance(e.tag, str) and (element_id := e.get("id"))}
    for flow in process.iterfind(".//bpmn:sequenceFlow", NS):
        flow_id = flow.get("id")
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source and source not in ids:
            report.add(flow, Text("sequence flow %(flow)s starts at missing element %(ref)s", flow=flow_id,
                                  ref=source), structural=True)
        if target and target not in ids:
            report.add(flow, Text("sequence flow %(flow)s points to missing element %(ref)s", flow=flow_id,
                                  ref=target), structural=True)
    # References SpiffWorkflow resolves silently (a boundary event on nothing never fires).
    for element in process.iter(f"{{{BPMN}}}*"):
        for attribute in ("attachedToRef", "default"):
            ref = element.get(attribute)
            if ref and ref not in ids:
                report.add(element, Text("%(attribute)s refers to missing element %(ref)s", attribute=attribute,
                                         ref=ref), structural=True)
        called = element.get("calledElement")
        if called and called not in process_ids:
            report.add(element, Text("calls process '%(process)s', which is not in the uploaded diagrams",
                                     process=called), structural=True)
    for node_ref in process.iterfind("bpmn:laneSet//bpmn:flowNodeRef", NS):
        lane = node_ref.getparent()
        if (node_ref.text or "").strip() not in ids and lane is not None:
            report.add(lane, Text("the lane lists missing element %(ref)s", ref=node_ref.text),
                       line=node_ref.sourceline)


def check_gateway(report: Report, gateway: Element) -> None:
    """Every outgoing flow of a deciding gateway but its default needs a condition (each
    flow is its own finding; SpiffWorkflow would stop at the first)."""
    process = gateway.getparent()
    if process is None:
        return
    outgoing = xpath(process, "bpmn:sequenceFlow[@sourceRef=$id]", id=gateway.get("id") or "")
    if len(outgoing) < 2:
        return
    for flow in outgoing:
        if flow.get("id") != gateway.get("default") and flow.find("bpmn:conditionExpression", NS) is None:
            report.add(flow, Text("this flow leaves the gateway '%(gateway)s' without a condition and is not its "
                                  "default: give it a condition or make it the default",
                                  gateway=gateway.get("name") or gateway.get("id")))


def check_events(report: Report, tree: Tree) -> None:
    """No event of a kind SpiffWorkflow cannot run."""
    for definition in UNSUPPORTED_EVENT_DEFINITIONS:
        for node in descendants(tree, definition):
            report.add(owner(node), Text("%(kind)s events are not supported by the engine",
                                         kind=definition.removesuffix("EventDefinition")),
                       line=node.sourceline, structural=True)


def check_event_subprocesses(report: Report, tree: Tree) -> None:
    """A warning where an event subprocess asks to interrupt the process.

    SpiffWorkflow 3.2 starts an event subprocess beside the running process and never
    cancels it.
    """
    for sub in tree.getroot().iterfind(".//bpmn:subProcess[@triggeredByEvent='true']", NS):
        for start in sub.iterfind("bpmn:startEvent", NS):
            if start.get("isInterrupting", "true") == "true":
                report.add(start, Text("this event subprocess does not interrupt the process: the engine runs "
                                       "it beside the work going on (set isInterrupting=\"false\" to say so, or use "
                                       "an interrupting boundary event)"), severity="warning")
