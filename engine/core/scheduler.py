"""The scheduler's pass: fire every due timer, each in its own transaction, then remind
people of deadlines near or passed.

A timer whose firing fails (a diagram expression that raises, a value the library cannot
read, anything SpiffWorkflow throws on that one instance) becomes an incident on its
instance: the timer keeps its error, stops being due, and waits until someone retries it.
Every other timer still fires; the scheduler itself never stops for one instance.
"""
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.core import audit, notifications
from engine.core.db import transient, unit_of_work
from engine.core.models import Timer
from engine.errors import ConflictError, Text

log = logging.getLogger("sanshe.scheduler")


@dataclass
class SchedulerPass:
    """What one pass did: timer ids fired, ``{timer id: error}`` of those that failed, and
    how many people were reminded of a deadline."""
    fired: list[int] = field(default_factory=list[int])
    incidents: dict[int, str] = field(default_factory=dict[int, str])
    reminded: int = 0


def run_pass(runtime: Any, session_factory: sessionmaker[Session]) -> SchedulerPass:
    """Fire the timers due now by the runtime's clock; returns a :class:`SchedulerPass`."""
    result = SchedulerPass()
    with unit_of_work(session_factory, readonly=True) as session:
        due = runtime.due_timers(session)
    for timer_id in due:
        try:
            with unit_of_work(session_factory) as session:
                if runtime.fire_timer(session, timer_id):
                    result.fired.append(timer_id)
        except ConflictError:
            continue  # a person's step on the same instance won the race; due again next pass
        except Exception as exc:  # anything raised while this one instance moved on
            if transient(exc):
                raise  # the database is away, not the timer at fault: the next pass tries again
            message = f"{type(exc).__name__}: {exc}"[:2000]
            log.error("timer %s failed: %s -> incident", timer_id, message)
            with unit_of_work(session_factory) as session:
                timer_incident(session, timer_id, message)
            result.incidents[timer_id] = message
    with unit_of_work(session_factory) as session:
        result.reminded = notifications.remind_deadlines(session, runtime.clock())
    return result


def timer_incident(session: Session, timer_id: int, message: str) -> None:
    """Record that firing the timer failed: it is no longer due until retried."""
    timer = session.get(Timer, timer_id)
    if timer is not None and timer.state == "waiting":
        timer.state, timer.error_message = "incident", message


def timer_incidents(session: Session, instance_id: int | None = None, limit: int = 200) -> list[Timer]:
    """Timers whose firing failed (all instances, or one), oldest first."""
    query = select(Timer).where(Timer.state == "incident").order_by(Timer.id).limit(limit)
    if instance_id is not None:
        query = query.where(Timer.instance_id == instance_id)
    return list(session.scalars(query))


def retry_timer(session: Session, timer_id: int, now: datetime, actor: str = "admin") -> Timer:
    """Make a timer incident due again now (the scheduler fires it at its next pass)."""
    timer = session.scalar(select(Timer).where(Timer.id == timer_id).with_for_update())
    if timer is None or timer.state != "incident":
        raise ConflictError(Text("Timer %(id)s is not an incident.", id=timer_id))
    audit.record(session, actor, "incident_retry", f"timer:{timer.id}",
                 {"instance": timer.instance_id, "element": timer.bpmn_id, "error": timer.error_message}, ts=now)
    timer.state, timer.due_at, timer.error_message = "waiting", now, None
    return timer
