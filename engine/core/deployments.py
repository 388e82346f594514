"""Deployed process definitions: versions, content hashes and the parsed-spec cache."""
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any, Literal, NamedTuple, overload

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import NotFoundError, Text, ValidationError
from engine.core import audit
from engine.core.models import Definition
from engine.core.spiff import ProcessChoiceError, main_process_id, parse_process
from engine.core.validation import process_choice_finding

FORM_PROPERTY = "formJsonSchemaFilename"


class SpecCache:
    """Parsed specs per deployed definition id: parsing costs milliseconds, lookups nothing.

    Deployed definitions never change, so their rows are cached here too (as snapshots
    that belong to no session).
    """

    def __init__(self) -> None:
        self._specs: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._definitions: dict[int, DefinitionSnapshot] = {}
        self._lock = Lock()

    def definition(self, session: Session, definition_id: int) -> "DefinitionSnapshot":
        """The deployed definition as a snapshot that belongs to no session."""
        snapshot = self._definitions.get(definition_id)
        if snapshot is None:
            row = get_definition(session, definition_id)
            snapshot = DefinitionSnapshot(row.id, row.key, row.version, row.bpmn_file, row.bpmn_xml, dict(row.forms))
            with self._lock:
                self._definitions[definition_id] = snapshot
        return snapshot

    def get(self, definition: Any) -> tuple[Any, dict[str, Any]]:
        """``(spec, subprocess_specs)`` of a deployed definition, parsed once."""
        entry = self._specs.get(definition.id)
        if entry is None:
            _, spec, subprocess_specs = parse_process(definition.bpmn_xml, definition.bpmn_file, definition.key)
            entry = (spec, subprocess_specs)
            with self._lock:
                self._specs[definition.id] = entry
        return entry

    def put(self, definition_id: int, spec: Any, subprocess_specs: dict[str, Any]) -> None:
        """Keep specs parsed elsewhere (at deployment) for ``definition_id``."""
        with self._lock:
            self._specs[definition_id] = (spec, subprocess_specs)


@dataclass(frozen=True)
class DefinitionSnapshot:
    """A deployed definition's row values, shared by every session."""

    id: int
    key: str
    version: int
    bpmn_file: str
    bpmn_xml: str
    forms: dict[str, Any]


def content_hash(bpmn_xml: str, forms: dict[str, Any]) -> str:
    """A hash of the diagram and its forms: the same content deploys once."""
    digest = hashlib.sha256(bpmn_xml.encode("utf-8"))
    for name in sorted(forms):
        digest.update(name.encode("utf-8"))
        digest.update(json.dumps(forms[name], sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def referenced_forms(bpmn_xml: str) -> list[str]:
    """Form file names referenced by the diagram's user tasks."""
    tree = etree.fromstring(bpmn_xml.encode("utf-8"))
    return sorted({
        value for prop in tree.iter("{*}property")
        if prop.get("name") == FORM_PROPERTY and (value := prop.get("value"))
    })


def lane_roles(bpmn_xml: str) -> dict[str, str]:
    """``{lane id: role}`` of the lanes that say their role in a ``role`` property."""
    tree = etree.fromstring(bpmn_xml.encode("utf-8"))
    roles: dict[str, str] = {}
    for lane in tree.iter("{*}lane"):
        for prop in lane.iterfind("{*}extensionElements/{*}properties/{*}property"):
            if prop.get("name") == "role" and (role := prop.get("value")):
                roles[lane.get("id", "")] = role
    return roles


def read_sources(paths: Iterable[str | Path]) -> tuple[dict[str, str], dict[str, str]]:
    """Diagrams and forms as text from files and folders: ``(bpmn_files, forms)``.

    A folder contributes every ``*.bpmn`` and ``*.json`` file below it. A diagram given on
    its own, with no form files, brings the ``*.json`` files of the ``forms/`` folder
    beside it. ``sanshe validate`` and ``sanshe deploy`` read with this same rule.
    """
    bpmn_files: dict[str, str] = {}
    forms: dict[str, str] = {}
    neighbours: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise NotFoundError(Text("No such file or folder: %(path)s", path=str(path)))
        if path.is_file() and path.suffix not in (".bpmn", ".json"):
            raise NotFoundError(Text("%(path)s: not a .bpmn diagram, a .json form or a folder", path=str(path)))
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if not file.is_file():
                continue
            if file.suffix == ".bpmn":
                bpmn_files[file.name] = file.read_text(encoding="utf-8")
            elif file.suffix == ".json":
                forms[file.name] = file.read_text(encoding="utf-8")
        if path.is_file() and path.suffix == ".bpmn":
            neighbours.extend(sorted((path.parent / "forms").glob("*.json")))
    if not forms:
        forms = {file.name: file.read_text(encoding="utf-8") for file in neighbours}
    return bpmn_files, forms


def read_bundle(paths: Iterable[str | Path]) -> tuple[dict[str, str], dict[str, Any]]:
    """Read diagrams and forms (as :func:`read_sources`), the forms parsed:
    ``(bpmn_files, forms)``."""
    bpmn_files, sources = read_sources(paths)
    forms: dict[str, Any] = {}
    for name, source in sources.items():
        try:
            forms[name] = json.loads(source)
        except json.JSONDecodeError as exc:
            raise ValidationError(Text("%(file)s:%(line)s: not valid JSON (%(reason)s)", file=name, line=exc.lineno,
                                       reason=exc.msg)) from exc
    return bpmn_files, forms


def with_deployed_forms(session: Session, bpmn_files: dict[str, str], forms: dict[str, Any]) -> dict[str, Any]:
    """``forms`` completed with the forms of the deployed versions the diagrams came from.

    A diagram uploaded on its own (changed in a modeler, say) keeps the forms of the latest
    deployed version of its process: each form it references that is not among ``forms``
    is taken from there. Uploaded forms always win. A diagram that cannot be read is left
    to validation to report.
    """
    completed = dict(forms)
    for xml in bpmn_files.values():
        try:
            tree = etree.fromstring(xml.encode("utf-8")).getroottree()
            key = main_process_id(tree)
        except (etree.XMLSyntaxError, ProcessChoiceError):
            continue
        latest = latest_definition(session, key, required=False)
        if latest is None:
            continue
        for name in referenced_forms(etree.tostring(tree, encoding="unicode")):
            if name not in completed and name in (latest.forms or {}):
                completed[name] = latest.forms[name]
    return completed


class _Parsed(NamedTuple):
    """A diagram that passed: its file, text, process id, parsed specs and own forms."""

    filename: str
    xml: str
    key: str
    spec: Any
    subprocess_specs: dict[str, Any]
    forms: dict[str, Any]


def deploy(session: Session, spec_cache: SpecCache, bpmn_files: dict[str, str], forms: dict[str, Any],
           deployed_by: str, validator: Callable[[dict[str, str], dict[str, Any]], object] | None = None,
           ) -> list[tuple[Definition, bool]]:
    """Deploy each diagram with the forms it references as a new version of its process.

    Identical content (same diagram and forms) is a no-op. ``validator`` is a callable
    ``(bpmn_files, forms) -> None`` raising ValidationError; without one the diagram is
    still parsed and checked against the BPMN XSD. Returns ``[(definition, created)]``.
    Nothing is written when any diagram is refused.
    """
    if not bpmn_files:
        raise ValidationError("No BPMN diagram to deploy.")
    if validator is not None:
        validator(bpmn_files, forms)
    parsed: list[_Parsed] = []
    for filename, xml in sorted(bpmn_files.items()):
        try:
            key, spec, subprocess_specs = parse_process(xml, filename)
        except etree.XMLSyntaxError as exc:
            raise ValidationError(f"{filename}:{exc.lineno}: not well-formed XML: {exc.msg}") from exc
        except ProcessChoiceError as exc:
            tree = etree.fromstring(xml.encode("utf-8")).getroottree()
            finding = process_choice_finding(filename, tree, exc)
            raise ValidationError(f"{filename}: {exc}", findings=[finding]) from exc
        except Exception as exc:  # SpiffWorkflow's ValidationException and parse errors
            line = getattr(exc, "line_number", None) or getattr(exc, "sourceline", "")
            raise ValidationError(f"{filename}:{line}: {exc}") from exc
        names = referenced_forms(xml)
        missing = [name for name in names if name not in forms]
        if missing:
            raise ValidationError(f"{filename}: missing form files: {', '.join(missing)}")
        parsed.append(_Parsed(filename, xml, key, spec, subprocess_specs, {n: forms[n] for n in names}))

    results: list[tuple[Definition, bool]] = []
    for filename, xml, key, spec, subprocess_specs, own_forms in parsed:
        digest = content_hash(xml, own_forms)
        latest = latest_definition(session, key, required=False)
        if latest is not None and latest.content_hash == digest:
            results.append((latest, False))
            continue
        definition = Definition(
            key=key, version=(latest.version + 1) if latest else 1, name=spec.description or key,
            content_hash=digest, bpmn_file=filename, bpmn_xml=xml, forms=own_forms, deployed_by=deployed_by,
        )
        session.add(definition)
        session.flush()
        spec_cache.put(definition.id, spec, subprocess_specs)
        audit.record(session, deployed_by, "deploy", f"{key} v{definition.version}",
                     {"file": filename, "hash": digest})
        results.append((definition, True))
    return results


@overload
def latest_definition(session: Session, key: str, required: Literal[True] = True) -> Definition: ...
@overload
def latest_definition(session: Session, key: str, required: bool) -> Definition | None: ...
def latest_definition(session: Session, key: str, required: bool = True) -> Definition | None:
    """The newest deployed version of process ``key`` (NotFoundError, or None when not
    ``required``, if none is deployed)."""
    definition = session.scalar(select(Definition).where(Definition.key == key).order_by(Definition.version.desc()).limit(1))
    if definition is None and required:
        raise NotFoundError(Text("No process %(key)r is deployed.", key=key))
    return definition


def get_definition(session: Session, definition_id: int) -> Definition:
    """The definition row (NotFoundError if there is none)."""
    definition = session.get(Definition, definition_id)
    if definition is None:
        raise NotFoundError(Text("No definition %(id)s.", id=definition_id))
    return definition


def definition_count(session: Session) -> int:
    """How many definitions (all versions) are deployed."""
    return session.scalar(select(func.count(Definition.id))) or 0
