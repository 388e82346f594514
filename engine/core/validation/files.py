"""Checks of whole files: diagrams are well-formed XML and valid BPMN 2.0 (every XSD error,
not only the last), forms are JSON Schemas, and SpiffWorkflow itself parses the diagrams.

SpiffWorkflow stops at its first problem and words some of them misleadingly (with the XML
of the element, or a Python object), so its findings are reworded here, and only files
without structural problems are given to it.
"""
import json
import re
from collections.abc import Mapping
from copy import deepcopy
from typing import Any, Protocol

from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator
from lxml import etree

from engine.core import bpmn, spiff
from engine.core.bpmn import BPMN, SPIFF, Element, Tree
from engine.core.validation.findings import Finding
from engine.errors import Text

# SpiffWorkflow sometimes words a problem with the XML of the element or a Python object.
_RAW_XML = re.compile(r"b?'<[^']*>(\\n)?'|<Element [^>]* at 0x[0-9a-f]+>|<lxml[^>]* at 0x[0-9a-f]+>", re.IGNORECASE)


class _Validator(Protocol):
    """What is used of SpiffWorkflow's BPMN validator (the library has no type hints)."""

    validator: etree.XMLSchema

    def preprocess(self, document: Tree, /) -> None: ...


class _Parser(Protocol):
    """What is used of SpiffWorkflow's BPMN parser (the library has no type hints)."""

    def add_bpmn_xml(self, document: Tree, /, filename: str | None = None) -> None: ...

    def get_spec(self, process_id: str) -> object: ...

    def get_subprocess_specs(self, name: str) -> object: ...


_VALIDATOR: _Validator = spiff.VALIDATOR
# A form is a JSON Schema: it must pass the schema of JSON Schemas.
_META_SCHEMA: Validator = Draft202012Validator(Draft202012Validator.META_SCHEMA)


def _parser() -> _Parser:
    return spiff.make_parser(validate=False)  # the XSD runs on its own, with every error


def parse_xml(name: str, content: str | bytes) -> tuple[Tree | None, list[Finding]]:
    """The document of a diagram file, or None and the finding that it is not well-formed."""
    try:
        return bpmn.parse(content), []
    except etree.XMLSyntaxError as exc:
        return None, [Finding(file=name, line=exc.lineno, message=Text("not well-formed XML: %(reason)s",
                                                                        reason=exc.msg))]


def check_xsd(name: str, tree: Tree) -> list[Finding]:
    """Every way the diagram breaks the BPMN 2.0 XSD (with SpiffWorkflow's extensions)."""
    copy = deepcopy(tree)
    _VALIDATOR.preprocess(copy)  # the same rewrite the library applies before validating
    schema = _VALIDATOR.validator
    if schema.validate(copy):
        return []
    findings: list[Finding] = []
    prefixes = {prefix: uri for prefix, uri in copy.getroot().nsmap.items() if prefix}
    for error in schema.error_log:
        element = _with_id(bpmn.first(bpmn.xpath(copy, error.path, prefixes))) if error.path else None
        findings.append(Finding(
            file=name, line=error.line, message=Text("not valid BPMN 2.0: %(reason)s", reason=_short_xsd(error.message)),
            element_id=element.get("id") if element is not None else None,
            element_name=element.get("name") if element is not None else None,
        ))
    return findings


def _short_xsd(message: str) -> str:
    return message.replace("{%s}" % BPMN, "bpmn:").replace("{%s}" % SPIFF, "spiffworkflow:")


def _with_id(element: Element | None) -> Element | None:
    while element is not None and not element.get("id"):
        element = element.getparent()
    return element


def check_forms(forms: Mapping[str, Any]) -> tuple[list[Finding], set[str]]:
    """The findings on forms ``{name: schema}`` (parsed, or JSON text/bytes), and the names
    of the valid ones: ``(findings, names)``."""
    findings: list[Finding] = []
    valid: set[str] = set()
    for name, form in forms.items():
        if isinstance(form, (str, bytes)):
            try:
                form = json.loads(form)
            except json.JSONDecodeError as exc:
                findings.append(Finding(file=name, line=exc.lineno, message=Text("not valid JSON: %(reason)s",
                                                                                 reason=exc.msg)))
                continue
        errors = sorted(_META_SCHEMA.iter_errors(form), key=lambda e: [str(p) for p in e.absolute_path])
        for error in errors:
            path = "/".join(str(p) for p in error.absolute_path) or "(root)"
            findings.append(Finding(file=name, message=Text("not a valid JSON Schema at %(path)s: %(reason)s",
                                                            path=path, reason=error.message)))
        if not errors:
            valid.add(name)
    return findings, valid


def check_with_spiffworkflow(trees: Mapping[str, Tree]) -> list[Finding]:
    """Parse every process of the files that passed the other checks, with SpiffWorkflow itself."""
    parser = _parser()
    findings: list[Finding] = []
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
                file_name = _attribute(exc, "file_name")
                findings.append(_from_spiff(exc, file_name or name, trees.get(file_name, tree)))
    return findings


def process_choice_finding(name: str, tree: Tree, exc: spiff.ProcessChoiceError) -> Finding:
    """The finding for a file without exactly one process to run (``spiff.ProcessChoiceError``)."""
    element = bpmn.first(bpmn.xpath(tree, "//bpmn:collaboration")) if exc.pools else None
    return Finding(file=name, element_id=element.get("id") if element is not None else None,
                   line=element.sourceline if element is not None else None, message=str(exc))


def _from_spiff(exc: spiff.ValidationException, name: str, tree: Tree) -> Finding:
    element_id = _attribute(exc, "id")
    element = bpmn.first(bpmn.xpath(tree, "//bpmn:*[@id=$id]", id=element_id)) if element_id else None
    line_number: object = getattr(exc, "line_number", None)
    line = element.sourceline if element is not None else (line_number if isinstance(line_number, int) else None)
    kind = f"bpmn:{bpmn.local_name(element)}" if element is not None else "…"
    message = _RAW_XML.sub(lambda _: kind, str(exc.args[0]) if exc.args else str(exc))
    return Finding(file=name, element_id=element_id or None, element_name=_attribute(exc, "name") or None,
                   line=line or None, message=Text("SpiffWorkflow cannot run it: %(reason)s", reason=message))


def _attribute(exc: spiff.ValidationException, name: str) -> str:
    """A text attribute SpiffWorkflow sets on its exception (``""`` when it has none)."""
    value: object = getattr(exc, name, "")  # set in its __init__, without type hints
    return value if isinstance(value, str) else ""
