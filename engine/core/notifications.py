"""In-app notifications: a task waits for you, a project you follow moved on, a result.

A notification stores what happened (``kind`` and ``params``: the task's name, the step,
who handed it over) and is worded in the reader's language when it is shown; ``message``
keeps the English sentence. ``notify_task_ready`` is the runtime's hook for every new human
task; it runs in the same transaction that creates the task, so each task notifies its
people exactly once. ``notify_handed_over`` and ``notify_step_moved`` listen to the hooks of
the same names; ``remind_deadlines`` runs in the scheduler's pass.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Unpack

from sqlalchemy import (JSON, BigInteger, DateTime, Select, String, Text, bindparam, cast, delete, func, insert, select,
                        update)
from sqlalchemy.orm import Session

from engine.core import stepwrites
from engine.core.db import table_of
from engine.core.models import Instance, Notification, ProjectFollow, RoleGrant, Task, User, utcnow
from engine.core.states import TaskState
from engine.errors import NotFoundError


class NotificationKind(StrEnum):
    """What a notification is about; each is worded by the page in the reader's language."""
    MESSAGE = "message"              # free text, e.g. from a diagram's notify task
    TASK_READY = "task_ready"        # a task for your role
    TASK_ASSIGNED = "task_assigned"  # a task the process gives to you alone (a ballot)
    TASK_HANDED = "task_handed"      # a colleague handed a task to you
    DEADLINE_NEAR = "deadline_near"
    OVERDUE = "overdue"
    STEP_MOVED = "step_moved"        # a project you follow moved to another step
    VOTE_RESULT = "vote_result"
    PAYMENT_MADE = "payment_made"


# How long before a task's due time its people are reminded.
REMIND_BEFORE = timedelta(days=1)


def _holders(*columns: Any) -> Select[Unpack[tuple[Any, ...]]]:
    """``columns`` for each active person holding ``p_role`` in the scope ``p_scope_type``,
    ``p_scope_id``, by username."""
    return (select(*columns).join(RoleGrant, RoleGrant.user_id == User.id)
            .where(RoleGrant.role == bindparam("p_role"), RoleGrant.scope_type == bindparam("p_scope_type"),
                   RoleGrant.scope_id == bindparam("p_scope_id"), User.active.is_(True))
            .order_by(User.username))


_RECIPIENTS = _holders(User.username)
# A new task's people are chosen by the insert itself: one statement per task.
_NOTIFY_ROLE = insert(table_of(Notification)).from_select(
    ["username", "task_id", "instance_id", "kind", "params", "message", "created_at"],
    _holders(User.username, cast(bindparam("p_task"), String(36)), cast(bindparam("p_instance"), BigInteger),
             cast(bindparam("p_kind"), String(40)), bindparam("p_params", type_=JSON),
             cast(bindparam("p_message"), Text),
             # Not CAST(... AS DATETIME): SQLite would give that numeric affinity and keep the year only.
             bindparam("p_now", type_=DateTime()))).execution_options(preserve_rowcount=True)


def recipients(session: Session, role: str, scope_type: str, scope_id: int | None) -> list[str]:
    """Usernames of active people holding ``role`` in the scope."""
    return list(session.scalars(_RECIPIENTS, {"p_role": role, "p_scope_type": scope_type, "p_scope_id": scope_id}))


def notify_task_ready(session: Session, task: Any) -> int:
    """Tell whoever the new ``task`` waits for: its assignee, or everyone who may take it.

    One statement either way (the role's people are selected by the insert itself);
    returns how many people were told.
    """
    message = f"New task: {task.name}"
    params = {"task": task.name}
    if task.assignee:
        return stepwrites.execute(session, stepwrites.INSERT_NOTIFICATIONS, [
            {"username": task.assignee, "task_id": task.id, "instance_id": task.instance_id,
             "kind": NotificationKind.TASK_ASSIGNED, "params": params, "message": message,
             "created_at": task.created_at}]).rowcount
    return stepwrites.execute(session, _NOTIFY_ROLE, {
        "p_task": task.id, "p_instance": task.instance_id, "p_kind": str(NotificationKind.TASK_READY),
        "p_params": params, "p_message": message, "p_now": task.created_at, "p_role": task.role,
        "p_scope_type": task.scope_type, "p_scope_id": task.scope_id}).rowcount


def notify_handed_over(session: Session, task: Any, by: str, to: str, now: datetime) -> None:
    """Tell ``to`` that ``by`` handed them ``task``."""
    notify(session, [to], f"{by} handed you a task: {task.name}", task_id=task.id, instance_id=task.instance_id,
           kind=NotificationKind.TASK_HANDED, params={"task": task.name, "by": by}, now=now)


def notify_step_moved(session: Session, instance: Any, old_step: int | None, new_step: int, now: datetime) -> None:
    """Tell the followers of ``instance`` that it moved from ``old_step`` to ``new_step``."""
    followers = session.scalars(select(ProjectFollow.username).where(ProjectFollow.instance_id == instance.id)
                                .order_by(ProjectFollow.username)).all()
    notify(session, followers, f"'{instance.title}' moved to step {new_step}", instance_id=instance.id,
           kind=NotificationKind.STEP_MOVED, params={"from": old_step, "to": new_step, "title": instance.title}, now=now)


def notify(session: Session, usernames: Iterable[str], message: str, job_id: int | None = None,
           task_id: str | None = None, now: datetime | None = None, *, instance_id: int | None = None,
           kind: str = NotificationKind.MESSAGE, params: dict[str, Any] | None = None) -> list[str]:
    """Send a notification to each of ``usernames`` once; returns who was told.

    With ``job_id``, a second run of the same job sends nothing: the first notification
    carries the job id (a UNIQUE column) and marks the effect as done.
    """
    if job_id is not None and session.scalar(select(Notification.id).where(Notification.job_id == job_id)):
        return []
    sent: list[str] = []
    for username in dict.fromkeys(usernames):
        extra = {"created_at": now} if now else {}
        session.add(Notification(username=username, message=message, task_id=task_id, instance_id=instance_id,
                                 kind=str(kind), params=params, job_id=job_id if not sent else None, **extra))
        sent.append(username)
    session.flush()
    return sent


def announce_to_community(session: Session, community_id: int | None, message: str, job_id: int | None = None,
                          now: datetime | None = None,
                          roles: Sequence[str] = ("resident_representative", "community_committee"),
                          **notice: Any) -> list[str]:
    """The community hears a result: its representatives and its committee."""
    people: list[str] = []
    for role in roles:
        people += recipients(session, role, "community", community_id)
    return notify(session, people, message, job_id=job_id, now=now, **notice)


# --- deadlines -------------------------------------------------------------------------------

def remind_deadlines(session: Session, now: datetime, before: timedelta = REMIND_BEFORE) -> int:
    """Remind the people of every open task due within ``before`` and tell them when it
    is overdue; each person hears of each at most once. Returns how many were told."""
    told = 0
    # Tasks whose people have heard already are left out by the query, so a pass costs the
    # same however many old overdue tasks there are.
    for kind, window in ((NotificationKind.OVERDUE, Task.due_at <= now),
                         (NotificationKind.DEADLINE_NEAR, Task.due_at.between(now, now + before))):
        heard = select(Notification.id).where(Notification.task_id == Task.id,
                                              Notification.kind.in_((kind, NotificationKind.OVERDUE)))
        due = session.scalars(select(Task).where(Task.state == TaskState.READY, Task.due_at.isnot(None), window,
                                                 ~heard.exists()).order_by(Task.due_at)).all()
        told += _remind(session, due, kind, now)
    session.flush()
    return told


def escalation_of(task: Any) -> tuple[str, str, int | None]:
    """Who hears that a task is overdue besides its people: the community committee, or the
    town when the committee's own task is late."""
    if task.role == "community_committee" or task.community_id is None:
        return "town_government", "town", task.town_id
    return "community_committee", "community", task.community_id


def _remind(session: Session, due: Sequence[Task], kind: NotificationKind, now: datetime) -> int:
    told = 0
    for task in due:
        assert task.due_at is not None
        people = [task.claimed_by or task.assignee] if (task.claimed_by or task.assignee) else \
            recipients(session, task.role, task.scope_type, task.scope_id)
        told_now: list[tuple[str | None, str, dict[str, Any]]] = [
            (username, f"{kind}:{task.id}:{username}", {}) for username in people]
        if kind == NotificationKind.OVERDUE:
            role, scope_type, scope_id = escalation_of(task)
            told_now += [(username, f"escalated:{task.id}:{username}", {"escalated": True, "role": task.role})
                         for username in recipients(session, role, scope_type, scope_id) if username not in people]
        for username, key, extra in told_now:
            if session.scalar(select(Notification.id).where(Notification.key == key)) is not None:
                continue
            session.add(Notification(username=username, task_id=task.id, instance_id=task.instance_id, kind=str(kind),
                                     params={"task": task.name, "due": task.due_at.isoformat(), **extra}, key=key,
                                     message=f"{'Overdue' if kind == NotificationKind.OVERDUE else 'Due soon'}: "
                                             f"{task.name}", created_at=now))
            told += 1
    return told


# --- the reader's side -----------------------------------------------------------------------

@dataclass
class NotificationPage:
    """One page of a person's notifications, newest first."""
    items: list[Notification]
    total: int
    page: int
    per_page: int
    titles: dict[int, str]  # the projects' titles by instance id

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def unread_count(session: Session, username: str) -> int:
    """How many of the person's notifications are not read yet."""
    return session.scalar(select(func.count()).select_from(Notification)
                          .where(Notification.username == username, Notification.read_at.is_(None))) or 0


def page_of(session: Session, username: str, page: int = 1, per_page: int = 20,
            unread_only: bool = False) -> NotificationPage:
    """The person's notifications, newest first, ``per_page`` at a time."""
    condition = [Notification.username == username]
    if unread_only:
        condition.append(Notification.read_at.is_(None))
    total = session.scalar(select(func.count()).select_from(Notification).where(*condition)) or 0
    items = list(session.scalars(select(Notification).where(*condition)
                                 .order_by(Notification.created_at.desc(), Notification.id.desc())
                                 .offset((page - 1) * per_page).limit(per_page)))
    ids = {n.instance_id for n in items if n.instance_id}
    titles = {row.id: row.title for row in session.execute(select(Instance.id, Instance.title)
                                                           .where(Instance.id.in_(ids)))} if ids else {}
    return NotificationPage(items, total, page, per_page, titles)


def mark_read(session: Session, username: str, notification_id: int, now: datetime | None = None) -> Notification:
    """Mark one of the person's notifications read (someone else's is not found)."""
    row = session.get(Notification, notification_id)
    if row is None or row.username != username:
        raise NotFoundError("No such notification.")
    if row.read_at is None:
        row.read_at = now or utcnow()
    return row


def mark_all_read(session: Session, username: str, now: datetime | None = None) -> int:
    """Mark every unread notification of the person read; returns how many."""
    result = session.execute(update(Notification).where(Notification.username == username,
                                                        Notification.read_at.is_(None))
                             .values(read_at=now or utcnow()).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def follow(session: Session, username: str, instance_id: int) -> None:
    """Be told when the project moves to another step (following twice is following)."""
    if session.get(ProjectFollow, (username, instance_id)) is None:
        session.add(ProjectFollow(username=username, instance_id=instance_id))
        session.flush()


def unfollow(session: Session, username: str, instance_id: int) -> None:
    """Stop being told about the project."""
    session.execute(delete(ProjectFollow).where(ProjectFollow.username == username,
                                                ProjectFollow.instance_id == instance_id))


def follows(session: Session, username: str, instance_id: int) -> bool:
    """Whether the person follows the project."""
    return session.get(ProjectFollow, (username, instance_id)) is not None
