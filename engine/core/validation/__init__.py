"""Everything wrong with a bundle of diagrams and forms, before anything is deployed.

``validate_bundle`` reports every problem it can find at once, each with file, element
id, element name and line, so an administrator fixes a diagram in one pass. The checks:
well-formed XML and the BPMN 2.0 XSD (every error, not only the last), forms are JSON
Schemas (:mod:`.files`); the structure (:mod:`.structure`: flows that point nowhere,
start events, unsupported or reserved elements, every flow out of a deciding gateway has
a condition or is its default, no event SpiffWorkflow cannot run); the project's own rules
(:mod:`.rules`: lanes are roles, service topics have handlers, user tasks have valid
forms, tasks carry their step); diagram code passes ``scripting.check_expression`` and
timers are ISO 8601 (:mod:`.expressions`); and finally SpiffWorkflow parses it.
SpiffWorkflow stops at its first problem and words some of them misleadingly, so it runs
only on files without structural problems (a Sanshe rule such as a lane's role does not
stop it), and its findings on elements already reported are dropped. Findings are
:class:`Finding` (:mod:`.findings`).
"""
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.core.bpmn import NS, Tree, descendants
from engine.core.validation import expressions, rules, structure
from engine.core.validation.files import check_forms, check_with_spiffworkflow, check_xsd, parse_xml
from engine.core.validation.files import process_choice_finding as process_choice_finding
from engine.core.validation.findings import Finding as Finding
from engine.core.validation.findings import Report
from engine.core.validation.rules import ParameterChecks as ParameterChecks
from engine.errors import Text, ValidationError


def validate_bundle(bpmn_files: Mapping[str, str | bytes], forms: Mapping[str, Any], known_roles: Iterable[str],
                    known_topics: Iterable[str], parameter_checks: ParameterChecks | None = None) -> list[Finding]:
    """All findings for diagrams ``{name: xml}`` with forms ``{name: schema}``.

    Forms may be given parsed (dicts) or as JSON text/bytes. ``known_roles`` are the lane
    names allowed, ``known_topics`` the service task topics some worker handles.
    ``parameter_checks`` maps a topic to a function that takes a service task's parameters
    (``{name: expression text}``) and returns its problems (the values a rule allows).
    Returns a list of ``Finding`` (empty when everything is fine), errors first by file.
    """
    findings, valid_forms = check_forms(forms)
    trees: dict[str, Tree] = {}
    for name, content in bpmn_files.items():
        tree, file_findings = parse_xml(name, content)
        findings += file_findings
        if tree is not None:
            trees[name] = tree
    process_ids = {process_id for tree in trees.values() for p in tree.getroot().iterfind("bpmn:process", NS)
                   if (process_id := p.get("id")) is not None}
    bundle = _Bundle(set(known_roles), set(known_topics), forms, valid_forms, process_ids, dict(parameter_checks or {}))
    parsed: dict[str, Tree] = {}
    for name, tree in trees.items():
        xsd_findings = check_xsd(name, tree)
        report = bundle.check(name, tree)
        findings += xsd_findings + report.findings
        # A broken structure makes SpiffWorkflow fail in confusing ways, but a Sanshe rule
        # (a lane, a step, a form) does not concern it: it still runs, so that its own
        # problems are reported in the same pass.
        if not xsd_findings and not report.structural:
            parsed[name] = tree
    reported = {(f.file, f.element_id) for f in findings if f.severity == "error" and f.element_id}
    findings += [f for f in check_with_spiffworkflow(parsed) if (f.file, f.element_id) not in reported]
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


@dataclass(frozen=True)
class _Bundle:
    """What a diagram is checked against: the roles, topics, forms and processes of the
    bundle it came in."""

    roles: Collection[str]
    topics: Collection[str]
    forms: Collection[str]
    valid_forms: Collection[str]
    process_ids: Collection[str]
    parameter_checks: ParameterChecks

    def check(self, name: str, tree: Tree) -> Report:
        """The findings of the structure, rule and code checks on one well-formed diagram."""
        report = Report(name)
        structure.check_ids(report, tree)
        for process in tree.getroot().iterfind("bpmn:process", NS):
            structure.check_container(report, process)
            structure.check_flows(report, process, self.process_ids)
        for lane in descendants(tree, "lane"):
            rules.check_lane(report, lane, self.roles)
        for kind in rules.STEP_TASKS:
            for task in descendants(tree, kind):
                rules.check_step(report, task)
        for task in descendants(tree, "userTask"):
            rules.check_form(report, task, self.forms, self.valid_forms)
        for task in descendants(tree, "serviceTask"):
            rules.check_service(report, task, self.topics, self.parameter_checks)
        for kind in ("exclusiveGateway", "inclusiveGateway"):
            for gateway in descendants(tree, kind):
                structure.check_gateway(report, gateway)
        structure.check_events(report, tree)
        expressions.check_code(report, tree)
        expressions.check_timers(report, tree)
        structure.check_event_subprocesses(report, tree)
        return report
