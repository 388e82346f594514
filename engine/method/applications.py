"""Steps 2-4: the project application as one living document.

The organization writes it once and revises it after each consultation round; a revision
sends only what changed, the process keeps the merged result. Each completed writing or
revising task is a version; ``versions`` rebuilds them in order, ``diff`` says what changed
from one to the next, field by field and, in tables (phases, budget lines), row by row.
"""
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.forms import is_object
from engine.core.models import Task

WRITING_TASKS = ("write_application", "revise_application")
REVISING_TASK = "revise_application"
# Tasks whose page shows the current application and what changed since the last version.
READING_TASKS = frozenset({"consultation_meeting", "cast_ballot", "approve_application", "decide_failed_vote",
                           "purchase_decision"})
PREFIX = "application_"


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


@dataclass(frozen=True)
class Version:
    number: int
    task_id: str
    by: str | None
    at: datetime | None
    data: dict[str, Any]  # the application as it stood after this version (application_* fields)
    sent: dict[str, Any]  # what the writer sent in this version (a revision sends what changed)
    form_key: str = ""
    response: str = ""  # the organization's answer to the meeting's suggestions


def versions(session: Session, instance_id: int) -> list[Version]:
    """Every version of the project's application, the first one first."""
    tasks = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "completed",
                                               Task.bpmn_id.in_(WRITING_TASKS))
                            .order_by(Task.completed_at, Task.id)).all()
    current: dict[str, Any] = {}
    result: list[Version] = []
    for number, task in enumerate(tasks, start=1):
        sent = {k: v for k, v in (task.data or {}).items() if k.startswith(PREFIX) and _filled(v)}
        current = {**current, **sent}
        result.append(Version(number, task.id, task.completed_by, task.completed_at, dict(current), sent,
                              task.form_key or "", str((task.data or {}).get("revision_response") or "")))
    return result


def prefill(schema: dict[str, Any], current: dict[str, Any], is_file: Callable[[Any], bool]) -> dict[str, Any]:
    """The revision form filled with the current version (files excepted: a file stays as it
    is unless a new one is chosen)."""
    props: dict[str, Any] = schema.get("properties") or {}
    return {name: value for name, value in current.items()
            if name in props and _filled(value) and not is_file(props[name])}


@dataclass(frozen=True)
class RowChange:
    kind: str  # added | removed | changed
    key: str  # what names the row (its first text cell) or its number
    cells: list[tuple[str, dict[str, Any], Any, Any]] = field(default_factory=list[tuple[str, dict[str, Any], Any, Any]])  # (column, schema, before, after)
    row: dict[str, Any] = field(default_factory=dict[str, Any])  # the added or removed row


@dataclass(frozen=True)
class FieldChange:
    name: str
    schema: dict[str, Any]
    kind: str  # added | removed | changed
    before: Any = None
    after: Any = None
    rows: list[RowChange] = field(default_factory=list[RowChange])


def _row_key(row: dict[str, Any], columns: dict[str, Any]) -> str:
    for column, prop in columns.items():
        if prop.get("type") == "string" and isinstance(row.get(column), str) and row[column].strip():
            return row[column].strip()
    return ""


def _rows_diff(before: list[Any], after: list[Any], columns: dict[str, Any]) -> list[RowChange]:
    """Rows matched by their first text cell (a budget line's item, a phase's name); rows
    without one by position."""
    def keyed(rows: list[Any]) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        seen: dict[str, int] = {}
        for index, row in enumerate(rows or []):
            if not is_object(row):
                continue
            key = _row_key(row, columns) or f"#{index + 1}"
            seen[key] = seen.get(key, 0) + 1
            result[key if seen[key] == 1 else f"{key} ({seen[key]})"] = row
        return result
    old, new = keyed(before), keyed(after)
    changes: list[RowChange] = []
    for key, row in new.items():
        if key not in old:
            changes.append(RowChange("added", key, row=row))
            continue
        cells = [(column, prop, old[key].get(column), row.get(column)) for column, prop in columns.items()
                 if old[key].get(column) != row.get(column)]
        if cells:
            changes.append(RowChange("changed", key, cells))
    changes += [RowChange("removed", key, row=row) for key, row in old.items() if key not in new]
    return changes


def diff(before: dict[str, Any], after: dict[str, Any], schema: dict[str, Any]) -> list[FieldChange]:
    """What changed from ``before`` to ``after``, in the order of the form's fields."""
    changes: list[FieldChange] = []
    properties: dict[str, Any] = schema.get("properties") or {}
    for name, prop in properties.items():
        if not name.startswith(PREFIX):
            continue
        old, new = before.get(name), after.get(name)
        if old == new or (not _filled(old) and not _filled(new)):
            continue
        kind = "added" if not _filled(old) else "removed" if not _filled(new) else "changed"
        items: dict[str, Any] = prop.get("items") or {}
        if prop.get("type") == "array" and items.get("type") == "object":
            rows = _rows_diff(old or [], new or [], items.get("properties") or {})
            if rows:
                changes.append(FieldChange(name, prop, kind, rows=rows))
            continue
        changes.append(FieldChange(name, prop, kind, old, new))
    return changes


@dataclass(frozen=True)
class Summary:
    """What the representatives vote on, in brief."""
    title: str
    goals: str
    expected_effect: str
    phases: list[dict[str, Any]]
    budget_total: Any


def summary(data: dict[str, Any]) -> Summary:
    phases: Iterable[Any] = data.get("application_phases") or []
    return Summary(title=str(data.get("application_title") or ""), goals=str(data.get("application_goals") or ""),
                   expected_effect=str(data.get("application_expected_effect") or ""),
                   phases=[p for p in phases if is_object(p)],
                   budget_total=data.get("application_budget_total"))
