"""What a trial run (试运行) reads from its sandbox's database: the project's next timer,
what its event log names, and who holds a role there."""
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.models import Event, RoleGrant, Timer, User


def next_timer_due(session: Session, instance_id: int) -> datetime | None:
    """When the project's next waiting timer is due (None: no timer waits)."""
    return session.scalar(select(func.min(Timer.due_at)).where(
        Timer.instance_id == instance_id, Timer.state == "waiting"))


def next_timer_element(session: Session, instance_id: int) -> str | None:
    """The element id of the project's waiting timer due next (None: no timer waits)."""
    return session.scalar(select(Timer.bpmn_id).where(
        Timer.instance_id == instance_id, Timer.state == "waiting").order_by(Timer.due_at).limit(1))


def logged_activities(session: Session, instance_id: int) -> set[str]:
    """The element ids the project's event log names."""
    return set(session.scalars(select(Event.activity_id).where(Event.instance_id == instance_id)))


def service_task_names(session: Session, instance_id: int) -> list[str]:
    """The names of the service tasks the project's event log names, sorted, each once."""
    return sorted(set(session.scalars(select(Event.activity_name).where(
        Event.instance_id == instance_id, Event.activity_type == "serviceTask"))))


def holders(session: Session, role: str) -> list[User]:
    """The active people holding ``role`` anywhere, in the order they were added."""
    return list(session.scalars(select(User).join(RoleGrant, RoleGrant.user_id == User.id)
                                .where(RoleGrant.role == role, User.active.is_(True)).order_by(User.id)))


def holder_names(session: Session, role: str, scope_type: str, scope_id: int, limit: int) -> list[str]:
    """The display names of up to ``limit`` active people holding ``role`` in that scope,
    in the order they were added."""
    return list(session.scalars(
        select(User.display_name).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == role, RoleGrant.scope_type == scope_type,
               RoleGrant.scope_id == scope_id, User.active.is_(True)).order_by(User.id).limit(limit)))
