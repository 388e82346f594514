"""The core's named extension points: what other layers may listen to.

The core writes a step and then tells its listeners; it never imports them. ``wiring``
registers the method's and mining's listeners here (notifications of new tasks, the fund
release of a terminated project, the mining fold of freshly written events), so the write
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
# (session, the event rows just written, their ids or None) — events reached the log.
EventsWritten = Callable[[Session, Sequence[dict[str, Any]], Sequence[int] | None], object]


@dataclass
class Hooks:
    """Listeners per extension point, called in registration order inside the step's
    transaction (an exception rolls the whole step back)."""

    task_ready: list[TaskReady] = field(default_factory=list)
    terminated: list[Terminated] = field(default_factory=list)
    events_written: list[EventsWritten] = field(default_factory=list)
