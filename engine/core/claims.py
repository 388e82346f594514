"""Claiming, handing over and drafting human tasks (the inbox's operations).

These change who works on a task, not the process: no workflow is loaded, only the task
row and the event log are written.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from engine.core import access
from engine.core.eventlog import EventBatch
from engine.core.hooks import Hooks
from engine.core.models import Instance, Task, User
from engine.core.states import TaskState
from engine.errors import ConflictError, ForbiddenError, Text, ValidationError


class TaskClaims:
    """Task operations of the inbox, handed the definitions (``spec_cache``), the core's
    hooks (for the events they log) and the engine's clock."""

    def __init__(self, spec_cache: Any, hooks: Hooks, clock: Callable[[], datetime]) -> None:
        self.spec_cache = spec_cache
        self.hooks = hooks
        self.clock = clock

    def claim_task(self, session: Session, task_id: str, user: User) -> Task:
        """Take a waiting task: it leaves the others' inboxes."""
        row = access.visible_task(session, user, task_id)
        self._claim(session, row, user.username, user.username)
        return row

    def hand_over(self, session: Session, task_id: str, user: User, to_username: str) -> Task:
        """Give a task to another member holding the same role in the same scope."""
        row = access.visible_task(session, user, task_id)
        if row.assignee is not None:
            raise ForbiddenError("This task is assigned to one person by the process and cannot be handed over.")
        target = access.get_user(session, to_username)
        if not target.active or not access.holds(session, target, row.role, row.scope_type, row.scope_id):
            raise ValidationError("That person does not hold this role in this scope.",
                                  errors={"to": ["Choose a member of the same role and scope."]})
        if row.claimed_by not in (None, user.username) and not access.holds(session, user, "administrator", "global", 0):
            raise ForbiddenError(Text("This task is claimed by %(user)s.", user=row.claimed_by))
        self._claim(session, row, target.username, user.username, force=True)
        for told in self.hooks.task_handed_over:
            told(session, row, user.username, target.username, self.clock())
        return row

    def unclaim_task(self, session: Session, task_id: str, user: User) -> Task:
        """Give a claimed task back to everyone who holds its role."""
        row = access.visible_task(session, user, task_id)
        if row.claimed_by != user.username:
            raise ConflictError("You have not claimed this task.")
        self._claimed(session, row, None, None)
        self._task_events(session, row, [("assign", user.username)])
        return row

    def save_draft(self, session: Session, task_id: str, user: User, data: dict[str, Any]) -> Task:
        """Keep unfinished form data with a waiting task."""
        row = access.visible_task(session, user, task_id)
        if row.state != TaskState.READY:
            raise ConflictError(Text("This task is already %(state)s.", state=row.state))
        if not isinstance(data, dict):  # pyright: ignore[reportUnnecessaryIsInstance] (the caller's JSON)
            raise ValidationError("A draft must be an object.")
        row.draft = data
        return row

    def _claim(self, session: Session, row: Task, username: str, actor: str, force: bool = False) -> None:
        if row.state != TaskState.READY:
            raise ConflictError(Text("This task is already %(state)s.", state=row.state))
        if row.claimed_by not in (None, username) and not force:
            raise ConflictError(Text("This task is already claimed by %(user)s.", user=row.claimed_by))
        first = row.claimed_at is None
        self._claimed(session, row, username, self.clock())
        self._task_events(session, row, [("assign", actor)] + ([("start", username)] if first else []))

    def _claimed(self, session: Session, row: Task, username: str | None, when: datetime | None) -> None:
        # Conditional update: two people claiming at once, one wins. ``IS NULL`` for an
        # unclaimed task, ``=`` otherwise: PostgreSQL accepts ``IS`` only before NULL.
        holder = Task.claimed_by.is_(None) if row.claimed_by is None else Task.claimed_by == row.claimed_by
        result = cast(CursorResult[Any], session.execute(
            update(Task).where(Task.id == row.id, Task.state == TaskState.READY, holder)
            .values(claimed_by=username, claimed_at=when or row.claimed_at)
            .execution_options(synchronize_session=False)
        ))
        if result.rowcount != 1:
            raise ConflictError("Someone else changed this task first; reload and try again.")
        row.claimed_by, row.claimed_at = username, when or row.claimed_at

    def _task_events(self, session: Session, row: Task, transitions: Sequence[tuple[str, str | None]]) -> None:
        """Log ``[(transition, resource)]`` of the task, in order, as one batch."""
        instance = session.get(Instance, row.instance_id)
        batch = EventBatch(instance, self.spec_cache.definition(session, row.definition_id), self.clock(),
                           self.hooks.events_written)
        for transition, resource in transitions:
            batch.task(transition, row, resource)
        batch.flush(session)
