"""The core's named extension points: what other layers may listen to.

The core writes a step and then tells its listeners; it never imports them. ``wiring``
registers the method's and mining's listeners here (notifications of new tasks, of
hand-overs and of a project's next step, the fund release of a terminated project, the mining fold of freshly written events), so the write
path depends on nothing above the core.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

# (session, the new task's row values) — a human task became ready.
TaskReady = Callable[[Session, Any], object]
# (session, the instance, now) — a project was stopped before its end.
Terminated = Callable[[Session, Any, datetime], object]
# (session, the task row, who handed it over, to whom, now) — a task was handed to a colleague.
HandedOver = Callable[[Session, Any, str, str, datetime], object]
# (session, the instance, the step before, the step now, now) — a project reached another step.
StepMoved = Callable[[Session, Any, "int | None", int, datetime], object]
# (session, the event rows just written, their ids or None) — events reached the log.
EventsWritten = Callable[[Session, Sequence[dict[str, Any]], Sequence[int] | None], object]


@dataclass
class Hooks:
    """Listeners per extension point, called in registration order inside the step's
    transaction (an exception rolls the whole step back)."""

    task_ready: list[TaskReady] = field(default_factory=list[TaskReady])
    terminated: list[Terminated] = field(default_factory=list[Terminated])
    events_written: list[EventsWritten] = field(default_factory=list[EventsWritten])
    task_handed_over: list[HandedOver] = field(default_factory=list[HandedOver])
    step_moved: list[StepMoved] = field(default_factory=list[StepMoved])
