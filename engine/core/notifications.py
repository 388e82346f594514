"""In-app notifications: a new task waits for you; a vote result is announced.

``notify_task_ready`` is the runtime's hook for every new human task; it runs in the same
transaction that creates the task, so each task notifies its people exactly once.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Text, bindparam, cast, insert, select
from sqlalchemy.orm import Session

from engine.core.db import table_of
from engine.core import stepwrites
from engine.core.models import Notification, RoleGrant, User


def _holders(*columns):
    """``columns`` for each active person holding ``p_role`` in the scope ``p_scope_type``,
    ``p_scope_id``, by username."""
    return (select(*columns).join(RoleGrant, RoleGrant.user_id == User.id)
            .where(RoleGrant.role == bindparam("p_role"), RoleGrant.scope_type == bindparam("p_scope_type"),
                   RoleGrant.scope_id == bindparam("p_scope_id"), User.active.is_(True))
            .order_by(User.username))


_RECIPIENTS = _holders(User.username)
# A new task's people are chosen by the insert itself: one statement per task.
_NOTIFY_ROLE = insert(table_of(Notification)).from_select(
    ["username", "task_id", "message", "created_at"],
    _holders(User.username, cast(bindparam("p_task"), String(36)), cast(bindparam("p_message"), Text),
             cast(bindparam("p_now", type_=DateTime()), DateTime()))).execution_options(preserve_rowcount=True)


def recipients(session: Session, role: str, scope_type: str, scope_id: int | None) -> list[str]:
    """Usernames of active people holding ``role`` in the scope."""
    return list(session.scalars(_RECIPIENTS, {"p_role": role, "p_scope_type": scope_type, "p_scope_id": scope_id}))


def notify_task_ready(session: Session, task: Any) -> int:
    """Tell whoever the new ``task`` waits for: its assignee, or everyone who may take it.

    One statement either way (the role's people are selected by the insert itself);
    returns how many people were told.
    """
    message = f"New task: {task.name}"
    if task.assignee:
        return stepwrites.execute(session, stepwrites.INSERT_NOTIFICATIONS, [
            {"username": task.assignee, "task_id": task.id, "message": message, "created_at": task.created_at}]).rowcount
    return stepwrites.execute(session, _NOTIFY_ROLE, {
        "p_task": task.id, "p_message": message, "p_now": task.created_at, "p_role": task.role,
        "p_scope_type": task.scope_type, "p_scope_id": task.scope_id}).rowcount


def notify(session: Session, usernames: Iterable[str], message: str, job_id: int | None = None,
           task_id: str | None = None, now: datetime | None = None) -> list[str]:
    """Send ``message`` to each of ``usernames`` once.

    With ``job_id``, a second run of the same job sends nothing: the first notification
    carries the job id (a UNIQUE column) and marks the effect as done.
    """
    if job_id is not None and session.scalar(select(Notification.id).where(Notification.job_id == job_id)):
        return []
    sent = []
    for username in dict.fromkeys(usernames):
        extra = {"created_at": now} if now else {}
        session.add(Notification(username=username, message=message, task_id=task_id,
                                 job_id=job_id if not sent else None, **extra))
        sent.append(username)
    session.flush()
    return sent


def announce_to_community(session: Session, community_id: int | None, message: str, job_id: int | None = None,
                          now: datetime | None = None,
                          roles: Iterable[str] = ("resident_representative", "community_committee")) -> list[str]:
    """The community hears a result: its representatives and its committee."""
    people = []
    for role in roles:
        people += recipients(session, role, "community", community_id)
    return notify(session, people, message, job_id=job_id, now=now)
