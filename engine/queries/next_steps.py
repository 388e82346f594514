"""What happens next in a project: who has it now, or which automatic check runs.

Read after a step, in the same transaction, so a page can tell the person who just
completed a task where the project went.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.models import Instance, Job, Task
from engine.core.states import JobState, TaskState
from engine.errors import NotFoundError

# Jobs still to run: waiting for a worker, with one, or waiting for a budget.
_PENDING_JOBS = (JobState.READY, JobState.LOCKED, JobState.WAITING)


@dataclass
class WaitingTask:
    """An open human task: its name, its lane's role and scope, and the one person it is
    fixed on or claimed by (None: anyone holding the role in the scope)."""
    name: str
    role: str
    scope_type: str
    scope_id: int
    person: str | None


@dataclass
class NextStep:
    """Where the project stands: ``status`` and ``outcome`` of the instance, the open human
    tasks, and the names of the automatic steps still to run."""
    status: str
    outcome: str | None
    tasks: list[WaitingTask] = field(default_factory=list)
    automatic: list[str] = field(default_factory=list)


def whats_next(session: Session, instance_id: int) -> NextStep:
    """The open tasks and pending automatic steps of the project, oldest first."""
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFoundError("No such project.")
    tasks = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == TaskState.READY)
                            .order_by(Task.created_at, Task.id)).all()
    jobs = session.scalars(select(Job.name).where(Job.instance_id == instance_id, Job.state.in_(_PENDING_JOBS))
                           .order_by(Job.id)).all()
    return NextStep(instance.status, instance.outcome,
                    [WaitingTask(t.name, t.role, t.scope_type, t.scope_id, t.claimed_by or t.assignee) for t in tasks],
                    list(dict.fromkeys(n for n in jobs if n)))
