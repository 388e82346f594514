"""Everything wrong with a bundle of diagrams and forms, before anything is deployed.

``validate_bundle`` reports every problem it can find at once, each with file, element
id, element name and line, so an administrator fixes a diagram in one pass. The checks:
well-formed XML; the BPMN 2.0 XSD (every error, not only the last); the project's own
structural rules (flows that point nowhere, start events, unsupported or reserved
elements, lanes are roles, service topics have handlers, user tasks have valid forms,
tasks carry their step, diagram code passes ``scripting.check_expression``, timers are
ISO 8601, every flow out of a deciding gateway has a condition or is its default, no
event SpiffWorkflow cannot run); and finally SpiffWorkflow parses it. SpiffWorkflow stops
at its first problem and words some of them misleadingly, so it runs only on files without
structural problems (a Sanshe rule such as a lane's role does not stop it), and its
findings on elements already reported are dropped. Messages are :class:`Text`, so the
interface shows them in the user's language; each finding is one line.
"""
import ast
import json
import re
from copy import deepcopy
from dataclasses import dataclass
from collections.abc import Callable, Mapping, Iterable
from typing import Any

from jsonschema import Draft202012Validator
from lxml import etree

from engine.core import spiff
from engine.errors import Text, ValidationError
from engine.core.scripting import check_expression

# topic -> a check of a service task's parameters ({name: expression text}) returning its problems
ParameterChecks = Mapping[str, Callable[[dict[str, str]], list[str]]]
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}

# Tasks people (or workers) do; each must say which of the seven steps it belongs to.
STEP_TASKS = ("userTask", "manualTask", "serviceTask")
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
# Flow node types the engine's parser knows.
SUPPORTED_NODES = {etree.QName(tag).localname for tag in
                   {**spiff.SanshePythonParser.PARSER_CLASSES, **spiff.SanshePythonParser.OVERRIDE_PARSER_CLASSES}}
# Flow nodes of BPMN 2.0: any other child of a process is not a step of it.
FLOW_NODES = {
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess", "startEvent", "endEvent", "boundaryEvent",
    "intermediateCatchEvent", "intermediateThrowEvent", "implicitThrowEvent", "exclusiveGateway",
    "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
}
# Event definitions SpiffWorkflow 3.2 cannot run.
UNSUPPORTED_EVENT_DEFINITIONS = {"compensateEventDefinition"}
# SpiffWorkflow sometimes words a problem with the XML of the element or a Python object.
_RAW_XML = re.compile(r"b?'<[^']*>(\\n)?'|<Element [^>]* at 0x[0-9a-f]+>|<lxml[^>]* at 0x[0-9a-f]+>", re.IGNORECASE)
ISO_LOOKING = re.compile(r"^(R\d*/)?P[0-9YMWDTHS.,]+$|^\d{4}-\d{2}-\d{2}|^R\d*/", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem in a diagram or form; ``severity`` is ``"error"`` or ``"warning"``."""

    severity: str = "error"
    file: str
    element_id: str | None = None
    element_name: str | None = None
    line: int | None = None
    message: str

    def __post_init__(self):
        # One finding, one line: a name or message with line breaks is joined with spaces.
        if self.element_name:
            object.__setattr__(self, "element_name", _one_line(self.element_name))
        object.__setattr__(self, "message", _one_line(self.message))

    def __str__(self):
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.element_id:
            where += f" [{self.element_id}]"
        if self.element_name:
            where += f" {self.element_name}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"


def _one_line(text):
    """``text`` on one line; a :class:`Text` keeps its template and values (also on one line)."""
    template = getattr(text, "template", None)
    if template is None:
        return " ".join(str(text).split())
    values = {k: " ".join(v.split()) if isinstance(v, str) else v for k, v in text.values.items()}
    return Text(template, **values)


def validate_bundle(bpmn_files: Mapping[str, str | bytes], forms: Mapping[str, Any], known_roles: Iterable[str],
                    known_topics: Iterable[str], parameter_checks: ParameterChecks | None = None) -> list[Finding]:
    """All findings for diagrams ``{name: xml}`` with forms ``{name: schema}``.

    Forms may be given parsed (dicts) or as JSON text/bytes. ``known_roles`` are the lane
    names allowed, ``known_topics`` the service task topics some worker handles.
    ``parameter_checks`` maps a topic to a function that takes a service task's parameters
    (``{name: expression text}``) and returns its problems (the values a rule allows).
    Returns a list of ``Finding`` (empty when everything is fine), errors first by file.
    """
    findings, valid_forms = _check_forms(forms)
    trees = {}
    for name, content in bpmn_files.items():
        tree, file_findings = _parse_xml(name, content)
        findings += file_findings
        if tree is not None:
            trees[name] = tree
    process_ids = {p.get("id") for tree in trees.values() for p in tree.getroot().iterfind("bpmn:process", NS)}
    parsed = {}
    for name, tree in trees.items():
        xsd_findings = _check_xsd(name, tree)
        diagram = _Diagram(name, tree, set(known_roles), set(known_topics), forms, valid_forms, process_ids,
                           dict(parameter_checks or {}))
        findings += xsd_findings + diagram.check()
        # A broken structure makes SpiffWorkflow fail in confusing ways, but a Sanshe rule
        # (a lane, a step, a form) does not concern it: it still runs, so that its own
        # problems are reported in the same pass.
        if not xsd_findings and not diagram.structural:
            parsed[name] = tree
    reported = {(f.file, f.element_id) for f in findings if f.severity == "error" and f.element_id}
    findings += [f for f in _check_with_spiffworkflow(parsed) if (f.file, f.element_id) not in reported]
    return findings


def validate_or_raise(bpmn_files: Mapping[str, str | bytes], forms: Mapping[str, Any], known_roles: Iterable[str],
                      known_topics: Iterable[str], parameter_checks: ParameterChecks | None = None) -> list[Finding]:
    """Like ``validate_bundle``; raises ``ValidationError(findings=...)`` on any error.

    Returns the warnings when there are no errors.
    """
    findings = validate_bundle(bpmn_files, forms, known_roles, known_topics, parameter_checks)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise ValidationError(Text("The process has %(count)s problem(s); nothing was deployed.", count=len(errors)),
                              findings=findings)
    return findings


# -- files ------------------------------------------------------------------------------


def _parse_xml(name, content):
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True)).getroottree(), []
    except etree.XMLSyntaxError as exc:
        return None, [Finding(file=name, line=exc.lineno, message=Text("not well-formed XML: %(reason)s",
                                                                         reason=exc.msg))]


def _check_xsd(name, tree):
    copy = deepcopy(tree)
    spiff.VALIDATOR.preprocess(copy)  # the same rewrite the library applies before validating
    schema = spiff.VALIDATOR.validator
    if schema.validate(copy):
        return []
    findings = []
    prefixes = {prefix: uri for prefix, uri in copy.getroot().nsmap.items() if prefix}
    for error in schema.error_log:
        element = _with_id(_first(copy.xpath(error.path, namespaces=prefixes))) if error.path else None
        findings.append(Finding(
            file=name, line=error.line, message=Text("not valid BPMN 2.0: %(reason)s", reason=_short_xsd(error.message)),
            element_id=element.get("id") if element is not None else None,
            element_name=element.get("name") if element is not None else None,
        ))
    return findings


def _short_xsd(message):
    return message.replace("{%s}" % BPMN, "bpmn:").replace("{%s}" % SPIFF, "spiffworkflow:")


def _check_forms(forms):
    findings, valid = [], {}
    for name, form in forms.items():
        if isinstance(form, (str, bytes)):
            try:
                form = json.loads(form)
            except json.JSONDecodeError as exc:
                findings.append(Finding(file=name, line=exc.lineno, message=Text("not valid JSON: %(reason)s",
                                                                                 reason=exc.msg)))
                continue
        meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
        errors = sorted(meta.iter_errors(form), key=lambda e: [str(p) for p in e.absolute_path])
        for error in errors:
            path = "/".join(str(p) for p in error.absolute_path) or "(root)"
            findings.append(Finding(file=name, message=Text("not a valid JSON Schema at %(path)s: %(reason)s",
                                                            path=path, reason=error.message)))
        if not errors:
            valid[name] = form
    return findings, valid


def _check_with_spiffworkflow(trees):
    """Parse every process of the files that passed our checks, with SpiffWorkflow itself."""
    parser = spiff.make_parser(validate=False)  # the XSD ran already, with every error
    findings = []
    for name, tree in trees.items():
        tree = deepcopy(tree)
        spiff.standard_timer_texts(tree)  # as the engine reads them
        spiff.lanes_by_role(tree)
        try:
            parser.add_bpmn_xml(tree, filename=name)
        except spiff.ValidationException as exc:
            findings.append(_from_spiff(exc, name, tree))
    for name, tree in trees.items():
        try:
            process_ids = [spiff.main_process_id(tree)]
        except spiff.ProcessChoiceError as exc:
            findings.append(process_choice_finding(name, tree, exc))
            process_ids = spiff.executable_process_ids(tree)
        for process_id in process_ids:
            try:
                parser.get_spec(process_id)
                parser.get_subprocess_specs(process_id)
            except spiff.ValidationException as exc:
                findings.append(_from_spiff(exc, exc.file_name or name, trees.get(exc.file_name, tree)))
    return findings


def process_choice_finding(name: str, tree: Any, exc: spiff.ProcessChoiceError) -> Finding:
    """The finding for a file without exactly one process to run (``spiff.ProcessChoiceError``)."""
    element = _first(tree.xpath("//bpmn:collaboration", namespaces=NS)) if exc.pools else None
    return Finding(file=name, element_id=element.get("id") if element is not None else None,
                   line=element.sourceline if element is not None else None, message=str(exc))


def _from_spiff(exc, name, tree):
    element = _element_by_id(tree, exc.id) if getattr(exc, "id", None) else None
    line = element.sourceline if element is not None else (exc.line_number or None)
    message = _RAW_XML.sub(lambda m: f"bpmn:{etree.QName(element).localname}" if element is not None else "…",
                           str(exc.args[0]) if exc.args else str(exc))
    return Finding(file=name, element_id=exc.id or None, element_name=exc.name or None,
                   line=line, message=Text("SpiffWorkflow cannot run it: %(reason)s", reason=message))


def _element_by_id(tree, element_id):
    return _first(tree.xpath("//bpmn:*[@id=$id]", id=element_id, namespaces=NS))


def _with_id(element):
    while element is not None and not element.get("id"):
        element = element.getparent()
    return element


def _first(items):
    return items[0] if items else None


# -- one diagram ------------------------------------------------------------------------


class _Diagram:
    """The project's own checks of one well-formed diagram.

    ``structural`` says whether a problem was found that SpiffWorkflow would trip over
    (a flow that points nowhere, an element it has no parser for); Sanshe's own rules
    (lanes, steps, forms, topics) are not structural.
    """

    def __init__(self, name, tree, roles, topics, forms, valid_forms, process_ids, parameter_checks):
        self.name, self.tree, self.roles, self.topics = name, tree, roles, topics
        self.forms, self.valid_forms, self.process_ids = forms, valid_forms, process_ids
        self.parameter_checks = parameter_checks
        self.findings = []
        self.structural = False

    def check(self):
        self._check_ids()
        for process in self.tree.getroot().iterfind("bpmn:process", NS):
            self._check_container(process)
            self._check_flows(process)
        for lane in self._all("lane"):
            self._check_lane(lane)
        for kind in STEP_TASKS:
            for task in self._all(kind):
                self._check_step(task)
        for task in self._all("userTask"):
            self._check_form(task)
        for task in self._all("serviceTask"):
            self._check_service(task)
        for kind in ("exclusiveGateway", "inclusiveGateway"):
            for gateway in self._all(kind):
                self._check_gateway(gateway)
        self._check_events()
        self._check_code()
        self._check_timers()
        return self.findings

    def _all(self, local_name, ns="bpmn"):
        return self.tree.getroot().iterfind(f".//{ns}:{local_name}", NS)

    def _add(self, element, message, severity="error", line=None, structural=False):
        self.structural = self.structural or (structural and severity == "error")
        self.findings.append(Finding(
            severity=severity, file=self.name, line=line or element.sourceline, message=message,
            element_id=element.get("id"), element_name=element.get("name"),
        ))

    def _check_ids(self):
        seen = {}
        # Only BPMN elements: spiffworkflow:parameter/serviceTaskOperator ids are names, not ids.
        for element in self.tree.getroot().iter(f"{{{BPMN}}}*"):
            element_id = element.get("id")
            if element_id is None:
                continue
            if element_id in RESERVED_IDS:
                self._add(element, Text("the id '%(id)s' is reserved by the engine; rename it", id=element_id),
                          structural=True)
            if element_id in seen:
                self._add(element, Text("id '%(id)s' is used twice (first on line %(line)s)", id=element_id,
                                        line=seen[element_id]), structural=True)
            seen.setdefault(element_id, element.sourceline)

    def _check_container(self, container):
        children = [c for c in container if isinstance(c.tag, str)]
        local = [(c, etree.QName(c).localname) for c in children if etree.QName(c).namespace == BPMN]
        kind = etree.QName(container).localname
        starts = [c for c, n in local if n == "startEvent"]
        if kind == "adHocSubProcess":
            # Its tasks start by themselves: it has, and may have, no start or end event.
            for child, name in local:
                if name in ("startEvent", "endEvent"):
                    self._add(child, Text("an ad-hoc subprocess may not contain start or end events"), structural=True)
        elif container.get("triggeredByEvent") != "true" and not starts:
            message = (Text("the process has no start event") if kind == "process"
                       else Text("the subprocess has no start event"))
            self._add(container, message, structural=True)
        for child, name in local:
            if name in CONTAINERS:
                self._check_container(child)
            elif name in FLOW_NODES and name not in SUPPORTED_NODES:
                self._add(child, Text("element type bpmn:%(type)s is not supported by the engine", type=name),
                          structural=True)
            elif name not in FLOW_NODES and name not in NON_NODES:
                # Not a step of the process: the engine reads past it. Named by the element
                # around it when it has no id of its own.
                owner = child if child.get("id") else container
                self._add(owner, Text("bpmn:%(type)s is ignored by the engine", type=name), severity="warning",
                          line=child.sourceline)

    def _check_flows(self, process):
        ids = {e.get("id") for e in process.iter() if isinstance(e.tag, str) and e.get("id")}
        for flow in process.iterfind(".//bpmn:sequenceFlow", NS):
            flow_id = flow.get("id")
            source, target = flow.get("sourceRef"), flow.get("targetRef")
            if source and source not in ids:
                self._add(flow, Text("sequence flow %(flow)s starts at missing element %(ref)s", flow=flow_id,
                                     ref=source), structural=True)
            if target and target not in ids:
                self._add(flow, Text("sequence flow %(flow)s points to missing element %(ref)s", flow=flow_id,
                                     ref=target), structural=True)
        # References SpiffWorkflow resolves silently (a boundary event on nothing never fires).
        for element in process.iter(f"{{{BPMN}}}*"):
            for attribute in ("attachedToRef", "default"):
                ref = element.get(attribute)
                if ref and ref not in ids:
                    self._add(element, Text("%(attribute)s refers to missing element %(ref)s", attribute=attribute,
                                            ref=ref), structural=True)
            called = element.get("calledElement")
            if called and called not in self.process_ids:
                self._add(element, Text("calls process '%(process)s', which is not in the uploaded diagrams",
                                        process=called), structural=True)
        for node_ref in process.iterfind("bpmn:laneSet//bpmn:flowNodeRef", NS):
            if (node_ref.text or "").strip() not in ids:
                self._add(node_ref.getparent(), Text("the lane lists missing element %(ref)s", ref=node_ref.text),
                          line=node_ref.sourceline)

    def _check_lane(self, lane):
        prop = self._properties(lane).get(spiff.ROLE_PROPERTY)
        line = prop.sourceline if prop is not None else None
        role = spiff.lane_role(lane)
        known = ", ".join(sorted(self.roles))
        if prop is not None and not role:
            self._add(lane, Text("the lane's 'role' property is empty; choose a role in the lane's properties"),
                      line=line)
        elif prop is not None and role not in self.roles:
            self._add(lane, Text("the lane's role '%(role)s' is not a known role (known: %(known)s)", role=role,
                                 known=known), line=line)
        elif not role:
            self._add(lane, Text("the lane has no role: choose one in the lane's properties"))
        elif role not in self.roles:
            self._add(lane, Text("lane '%(role)s' is not a known role; give it a 'role' property with a role key "
                                 "(known: %(known)s)", role=role, known=known))

    def _properties(self, element):
        return {p.get("name"): p for p in
                element.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}

    def _check_step(self, task):
        prop = self._properties(task).get("step")
        if prop is None:
            self._add(task, Text("the task has no 'step' property (1..7)"))
            return
        value = (prop.get("value") or "").strip()
        if not (value.isdigit() and 1 <= int(value) <= 7):
            self._add(task, Text("step '%(value)s' is not a number from 1 to 7", value=value), line=prop.sourceline)

    def _check_form(self, task):
        props = self._properties(task)
        prop = props.get("formJsonSchemaFilename")
        filename = (prop.get("value") or "").strip() if prop is not None else ""
        line = prop.sourceline if prop is not None else None
        if not filename:
            self._add(task, Text("the user task has no form: choose one in its properties"))
        elif filename not in self.forms:
            self._add(task, Text("form '%(form)s' does not exist", form=filename), line=line)
        elif filename not in self.valid_forms:
            self._add(task, Text("form '%(form)s' is not a valid JSON Schema (see its own finding)", form=filename),
                      line=line)
        working = props.get("dueInWorkingDays")
        if working is not None and not (working.get("value") or "").strip().isdigit():
            self._add(task, Text("dueInWorkingDays '%(value)s' is not a whole number of working days",
                                 value=working.get("value")), line=working.sourceline)
        due = props.get("dueIn")
        if due is not None and not spiff.is_iso_duration(due.get("value") or ""):
            self._add(task, Text("dueIn '%(value)s' is not an ISO 8601 duration like P7D", value=due.get("value")),
                      line=due.sourceline)

    def _check_service(self, task):
        operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
        if operator is None:
            self._add(task, Text("the service task has no topic: choose one in its properties"))
            return
        topic = operator.get("id")
        if topic not in self.topics:
            self._add(task, Text("no worker handles the service topic '%(topic)s'", topic=topic),
                      line=operator.sourceline)
        params = list(operator.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS))
        for param in params:
            for problem in check_expression(param.get("value") or "", "eval"):
                self._add(task, Text("parameter '%(name)s': %(problem)s", name=param.get("id"), problem=problem),
                          line=param.sourceline)
        check = self.parameter_checks.get(topic)
        if check is not None:
            for problem in check({p.get("id"): p.get("value") or "" for p in params}):
                self._add(task, problem, line=operator.sourceline)

    def _check_gateway(self, gateway):
        """Every outgoing flow of a deciding gateway but its default needs a condition (each
        flow is its own finding; SpiffWorkflow would stop at the first)."""
        process = gateway.getparent()
        outgoing = process.xpath("bpmn:sequenceFlow[@sourceRef=$id]", id=gateway.get("id"), namespaces=NS)
        if len(outgoing) < 2:
            return
        for flow in outgoing:
            if flow.get("id") != gateway.get("default") and flow.find("bpmn:conditionExpression", NS) is None:
                self._add(flow, Text("this flow leaves the gateway '%(gateway)s' without a condition and is not its "
                                     "default: give it a condition or make it the default",
                                     gateway=gateway.get("name") or gateway.get("id")))

    def _check_events(self):
        for definition in UNSUPPORTED_EVENT_DEFINITIONS:
            for node in self._all(definition):
                self._add(_owner(node), Text("%(kind)s events are not supported by the engine",
                                             kind=definition.removesuffix("EventDefinition")),
                          line=node.sourceline, structural=True)

    def _check_code(self):
        code = [("bpmn:script", "exec", "script"), ("spiffworkflow:preScript", "exec", "pre-script"),
                ("spiffworkflow:postScript", "exec", "post-script"),
                ("bpmn:conditionExpression", "eval", "condition"),
                ("bpmn:completionCondition", "eval", "completion condition"),
                ("bpmn:loopCardinality", "eval", "loop cardinality"),
                ("spiffworkflow:messagePayload", "eval", "message payload")]
        for path, mode, what in code:
            for node in self.tree.getroot().iterfind(f".//{path}", NS):
                owner = _owner(node)
                for problem in check_expression(node.text or "", mode):
                    self._add(owner, Text("%(what)s: %(problem)s", what=what, problem=problem), line=node.sourceline)

    def _check_timers(self):
        for kind in spiff.TIMER_KINDS:
            for node in self.tree.getroot().iterfind(f".//bpmn:{kind}", NS):
                message = _timer_problem(kind, (node.text or "").strip())
                if message:
                    self._add(_owner(node), message, line=node.sourceline)
        # SpiffWorkflow 3.2 starts an event subprocess beside the running process and never
        # cancels it: say so where the diagram asks for an interruption.
        for sub in self.tree.getroot().iterfind(".//bpmn:subProcess[@triggeredByEvent='true']", NS):
            for start in sub.iterfind("bpmn:startEvent", NS):
                if start.get("isInterrupting", "true") == "true":
                    self._add(start, Text("this event subprocess does not interrupt the process: the engine runs "
                                   "it beside the work going on (set isInterrupting=\"false\" to say so, or use an "
                                   "interrupting boundary event)"), severity="warning")


def _owner(node):
    """The nearest ancestor with an id that names something a person recognises."""
    element = node.getparent()
    while element is not None:
        if element.get("id") and etree.QName(element).localname not in (
                "timerEventDefinition", "multiInstanceLoopCharacteristics"):
            return element
        element = element.getparent()
    return node


def _timer_problem(kind, text):
    """What is wrong with a timer's text (None when nothing is). ISO 8601 text is taken as
    the standard writes it (``P7D``); ``=...`` and anything else is a Python expression
    (:func:`spiff.timer_expression`)."""
    if not text or text == "=":
        return Text("the timer has an empty %(kind)s", kind=kind)
    if not text.startswith("=") and spiff.iso_timer_value(kind, text):
        return None
    expression = spiff.timer_expression(kind, text)
    problems = check_expression(expression, "eval")
    examples = {"timeDuration": "P7D or PT12H", "timeDate": "2027-03-01T09:00:00+08:00",
                "timeCycle": "R3/PT1H or R/2027-03-01T09:00:00+08:00/P1D"}
    if ISO_LOOKING.match(text) or (problems and text[:1] in "PpRr0123456789"):
        return Text("timer %(kind)s '%(text)s' is not valid ISO 8601 (e.g. %(example)s)", kind=kind, text=text,
                    example=examples[kind])
    if problems:
        return Text("timer %(kind)s: %(problems)s", kind=kind, problems="; ".join(problems))
    try:
        value = ast.literal_eval(expression)
    except ValueError:
        return None  # computed from task data; checked when it runs
    if not isinstance(value, str):
        return Text("timer %(kind)s must give an ISO 8601 text, not %(type)s", kind=kind, type=type(value).__name__)
    if not spiff.iso_timer_value(kind, value):
        return Text("timer %(kind)s '%(text)s' is not valid ISO 8601 (e.g. %(example)s)", kind=kind, text=value,
                    example=examples[kind])
    return None
