"""On-time figures per step: of the tasks with a deadline, how many were done by it, and
how many open ones are past it, over the projects a person may see."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.core.access import scope_condition
from engine.core.models import Instance, Task, User
from engine.core.states import TaskState


@dataclass
class StepOnTime:
    """One step: tasks done with a deadline, of them done in time, and open tasks overdue."""
    step: int
    done: int
    on_time: int
    overdue_open: int

    @property
    def rate(self) -> float | None:
        """The share done in time (None before any was done)."""
        return self.on_time / self.done if self.done else None


def on_time_by_step(session: Session, user: User, now: datetime) -> list[StepOnTime]:
    """Per step 1–7 that has tasks with deadlines in the person's projects."""
    visible = scope_condition(session, user)
    done = session.execute(
        select(Task.step, func.count(), func.sum(case((Task.completed_at <= Task.due_at, 1), else_=0)))
        .join(Instance, Instance.id == Task.instance_id)
        .where(visible, Task.state == TaskState.COMPLETED, Task.due_at.isnot(None), Task.step.isnot(None))
        .group_by(Task.step))
    late = session.execute(
        select(Task.step, func.count()).join(Instance, Instance.id == Task.instance_id)
        .where(visible, Task.state == TaskState.READY, Task.due_at < now, Task.step.isnot(None))
        .group_by(Task.step))
    steps: dict[int, StepOnTime] = {}
    for step, count, in_time in done:
        steps[int(step or 0)] = StepOnTime(int(step or 0), count, int(in_time or 0), 0)
    for step, count in late:
        steps.setdefault(int(step or 0), StepOnTime(int(step or 0), 0, 0, 0)).overdue_open = count
    return [steps[s] for s in sorted(steps)]
