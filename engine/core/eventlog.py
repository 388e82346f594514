"""The event log: one row per lifecycle transition of a task or an instance.

Rows are gathered during an engine step and written with one multi-row insert, in the
same transaction as the instance state; the batch's ``listeners`` (the core's
``events_written`` hook: mining folds the rows into its tables) see the same rows right after.
"""
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from engine.core import stepwrites
from engine.core.hooks import EventsWritten
from engine.core.models import Event


class EventBatch:
    """Events of one engine step for one instance."""

    def __init__(self, instance: Any, definition: Any, now: datetime, listeners: Sequence[EventsWritten] = ()) -> None:
        self.instance = instance
        self.definition = definition
        self.now = now
        self.listeners = listeners
        self.rows: list[dict[str, Any]] = []

    def add(self, transition: str, activity_id: str, activity_name: str = "", activity_type: str = "userTask",
            task_id: str | None = None, resource: str | None = None, role: str | None = None, step: int | None = None,
            ts: datetime | None = None) -> None:
        inst = self.instance
        self.rows.append({
            "ts": ts or self.now, "instance_id": inst.id, "definition_id": self.definition.id,
            "definition_key": self.definition.key, "definition_version": self.definition.version,
            "task_id": task_id, "activity_id": activity_id, "activity_name": activity_name,
            "activity_type": activity_type, "transition": transition, "resource": resource,
            "role": role, "step": step, "town_id": inst.town_id, "community_id": inst.community_id,
            "organization_id": inst.organization_id, "seq": None,
        })

    def task(self, transition: str, row: Any, resource: str | None = None, activity_type: str = "userTask",
             ts: datetime | None = None) -> None:
        self.add(transition, row.bpmn_id, row.name, activity_type, row.id, resource, row.role, row.step, ts)

    def job(self, transition: str, job: Any, resource: str | None = None) -> None:
        """A service task's transition (``job`` is its Job row or the same values)."""
        self.add(transition, job.bpmn_id, job.name, "serviceTask", job.task_id, resource, None, job.step)

    def flush(self, session: Session) -> None:
        """Write the gathered rows and hand them to the listeners."""
        if self.rows:
            # Steps on one instance take turns (they hold its row), so the last number
            # written is read here without a race.
            last = session.execute(select(func.max(Event.seq)).where(Event.instance_id == self.instance.id)).scalar()
            for number, row in enumerate(self.rows, start=(last or 0) + 1):
                row["seq"] = number
            ids = None
            if any(r["task_id"] is None and r["activity_type"] != "instance" for r in self.rows):
                # A message without a task is its own activity instance, keyed by its event id.
                result = session.execute(insert(Event).returning(Event.id, sort_by_parameter_order=True), self.rows)
                ids = result.scalars().all()
            else:
                stepwrites.execute(session, stepwrites.INSERT_EVENTS, self.rows)
            for listener in self.listeners:
                listener(session, self.rows, ids)
            self.rows = []


def instance_events(session: Session, instance_id: int) -> Sequence[Event]:
    """The timeline of one instance, oldest first."""
    return session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.ts, Event.seq, Event.id)).all()
