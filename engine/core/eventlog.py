"""The event log: one row per lifecycle transition of a task or an instance.

Rows are gathered during an engine step and written with one multi-row insert, in the
same transaction as the instance state; the same rows are folded into the mining tables
(:func:`engine.mining.fold.fold_events`) right after.
"""
from sqlalchemy import insert, select

from engine.core import stepwrites
from engine.mining.fold import fold_events
from engine.core.models import Event


class EventBatch:
    """Events of one engine step for one instance."""

    def __init__(self, instance, definition, now):
        self.instance = instance
        self.definition = definition
        self.now = now
        self.rows = []

    def add(self, transition, activity_id, activity_name="", activity_type="userTask", task_id=None,
            resource=None, role=None, step=None, ts=None):
        inst = self.instance
        self.rows.append({
            "ts": ts or self.now, "instance_id": inst.id, "definition_id": self.definition.id,
            "definition_key": self.definition.key, "definition_version": self.definition.version,
            "task_id": task_id, "activity_id": activity_id, "activity_name": activity_name,
            "activity_type": activity_type, "transition": transition, "resource": resource,
            "role": role, "step": step, "town_id": inst.town_id, "community_id": inst.community_id,
            "organization_id": inst.organization_id,
        })

    def task(self, transition, row, resource=None, activity_type="userTask", ts=None):
        self.add(transition, row.bpmn_id, row.name, activity_type, row.id, resource, row.role, row.step, ts)

    def job(self, transition, job, resource=None):
        """A service task's transition (``job`` is its Job row or the same values)."""
        self.add(transition, job.bpmn_id, job.name, "serviceTask", job.task_id, resource, None, job.step)

    def flush(self, session):
        if self.rows:
            ids = None
            if any(r["task_id"] is None and r["activity_type"] != "instance" for r in self.rows):
                # A message without a task is its own activity instance, keyed by its event id.
                result = session.execute(insert(Event).returning(Event.id, sort_by_parameter_order=True), self.rows)
                ids = result.scalars().all()
            else:
                stepwrites.execute(session, stepwrites.INSERT_EVENTS, self.rows)
            fold_events(session, self.rows, ids)
            self.rows = []


def instance_events(session, instance_id):
    """The timeline of one instance, oldest first."""
    return session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.ts, Event.id)).all()
