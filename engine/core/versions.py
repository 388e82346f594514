"""Versions of a process side by side: what each version holds, and what changed between two.

The diff reads the diagrams themselves (not the parsed specs), so it names what an
administrator drew: elements by id with their type and name, and for a changed element
which of its parts changed (name, a property, a parameter, a condition, a script ...).
Diagram layout (shapes, edges) is not part of the diff.
"""
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.bpmn import BPMN, Element, local_name
from engine.core.deployments import get_definition
from engine.errors import Text, ValidationError
from engine.core.models import Definition, Instance

# Redundant with the flows' sourceRef/targetRef; listing them would mark both ends of
# every changed flow as changed too.
IGNORED_PARTS = {"incoming", "outgoing"}


# (part, old value, new value) of a changed element; None where the part is missing.
PartChange = tuple[str, str | None, str | None]


@dataclass(frozen=True)
class ElementChange:
    """An element added, removed or changed; a changed one lists its changed ``parts``."""

    element_id: str
    element_type: str
    name: str
    parts: tuple[PartChange, ...] = ()


@dataclass
class VersionDiff:
    """What changed from one version to the next: elements, and forms by file name."""

    old_version: int
    new_version: int
    added: list[ElementChange] = field(default_factory=list[ElementChange])
    removed: list[ElementChange] = field(default_factory=list[ElementChange])
    changed: list[ElementChange] = field(default_factory=list[ElementChange])
    forms_added: list[str] = field(default_factory=list[str])
    forms_removed: list[str] = field(default_factory=list[str])
    forms_changed: list[str] = field(default_factory=list[str])

    @property
    def empty(self) -> bool:
        return not any((self.added, self.removed, self.changed, self.forms_added, self.forms_removed,
                        self.forms_changed))


def running_counts(session: Session) -> dict[int, int]:
    """``{definition id: running instances}`` (versions with none are left out)."""
    return dict(session.execute(
        select(Instance.definition_id, func.count()).where(Instance.status == "running")
        .group_by(Instance.definition_id)).all())


def versions_overview(session: Session) -> list[tuple[Definition, int]]:
    """Every deployed version (newest first per process) with its running instance count:
    ``[(definition, running)]``."""
    running = running_counts(session)
    definitions = session.scalars(select(Definition).order_by(Definition.key, Definition.version.desc()))
    return [(definition, running.get(definition.id, 0)) for definition in definitions]


def previous_version(session: Session, definition: Definition) -> Definition | None:
    """The version deployed just before ``definition`` (None for the first)."""
    return session.scalar(select(Definition).where(Definition.key == definition.key,
                                                   Definition.version < definition.version)
                          .order_by(Definition.version.desc()).limit(1))


def version_ids(session: Session, key: str) -> dict[int, int]:
    """``{version: definition id}`` of process ``key``."""
    return dict(session.execute(select(Definition.version, Definition.id).where(Definition.key == key)).all())


def diff_definitions(session: Session, old_id: int, new_id: int) -> VersionDiff:
    """The diff between two deployed versions of the same process."""
    old, new = get_definition(session, old_id), get_definition(session, new_id)
    if old.key != new.key:
        raise ValidationError(Text("Versions of different processes (%(old)s, %(new)s) cannot be compared.",
                                   old=old.key, new=new.key))
    result = diff_diagrams(old.bpmn_xml, new.bpmn_xml, old.forms or {}, new.forms or {})
    result.old_version, result.new_version = old.version, new.version
    return result


def diff_diagrams(old_xml: str, new_xml: str, old_forms: dict[str, Any] | None = None,
                  new_forms: dict[str, Any] | None = None) -> VersionDiff:
    """Elements added, removed and changed (by id), and forms added, removed and changed."""
    old_elements, new_elements = _elements(old_xml), _elements(new_xml)
    result = VersionDiff(0, 0)
    for element_id, (kind, name, parts) in new_elements.items():
        if element_id not in old_elements:
            result.added.append(ElementChange(element_id, kind, name))
            continue
        old_kind, old_name, old_parts = old_elements[element_id]
        changes = tuple((part, old_parts.get(part), parts.get(part))
                        for part in sorted(set(parts) | set(old_parts)) if parts.get(part) != old_parts.get(part))
        if old_kind != kind:
            changes = (("type", old_kind, kind),) + changes
        if changes:
            result.changed.append(ElementChange(element_id, kind, name or old_name, changes))
    for element_id, (kind, name, _) in old_elements.items():
        if element_id not in new_elements:
            result.removed.append(ElementChange(element_id, kind, name))
    old_forms, new_forms = old_forms or {}, new_forms or {}
    result.forms_added = sorted(set(new_forms) - set(old_forms))
    result.forms_removed = sorted(set(old_forms) - set(new_forms))
    result.forms_changed = sorted(name for name in set(old_forms) & set(new_forms)
                                  if _canonical(old_forms[name]) != _canonical(new_forms[name]))
    return result


def _canonical(form: object) -> str:
    return json.dumps(form, sort_keys=True, ensure_ascii=False)


class _Drawn(NamedTuple):
    """An element as the diff compares it."""

    kind: str
    name: str
    parts: dict[str, str]


def _elements(xml: str | bytes) -> dict[str, _Drawn]:
    """``{id: (type, name, {part: value})}`` for every BPMN element with an id."""
    root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    found: dict[str, _Drawn] = {}
    for element in root.iter(f"{{{BPMN}}}*"):
        element_id = element.get("id")
        if element_id and local_name(element) != "definitions":
            found[element_id] = _Drawn(local_name(element), element.get("name") or "", _parts(element))
    return found


def _parts(element: Element) -> dict[str, str]:
    """The element's own content as ``{part: text}``: attributes, then every descendant that
    is not itself a BPMN element with an id (those are compared on their own)."""
    parts = {f"@{key}": value for key, value in element.attrib.items() if key not in ("id",)}

    def walk(node: Element, path: str) -> None:
        children = [c for c in node if isinstance(c.tag, str) and etree.QName(c).localname not in IGNORED_PARTS
                    and not (etree.QName(c).namespace == BPMN and c.get("id") is not None)]
        labels = [etree.QName(c).localname for c in children]
        for child, label in zip(children, labels):
            qname = etree.QName(child)
            text = (child.text or "").strip()
            key = child.get("name") or child.get("id")
            if key and qname.namespace != BPMN:
                label = f"{label} {key}"
            elif labels.count(label) > 1 and text and not child.attrib and not len(child):
                label = f"{label} {text}"  # a list of references, e.g. a lane's flowNodeRef
            here = f"{path}/{label}" if path and path != "extensionElements" else label
            attrs = {k: v for k, v in child.attrib.items() if k not in ("name", "id") or qname.namespace == BPMN}
            value = " ".join([f'{etree.QName(k).localname}="{v}"' for k, v in sorted(attrs.items())] + ([text] if text else []))
            if value:
                parts[here] = value
            walk(child, here)

    walk(element, "")
    return parts
