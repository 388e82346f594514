"""Wiring: the collaborators an entry point (web app, worker, CLI) needs, built from settings.

This is the one place where the layers meet: the core's runtime is handed the method's
policy, and the method's, notifications' and mining's listeners are registered on the
core's hooks. Nothing in the core imports them.
"""
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.config import Settings
from engine.core.db import make_engine, make_session_factory
from engine.core.deployments import SpecCache
from engine.core import workdays
from engine.core.hooks import Hooks
from engine.core.notifications import notify_handed_over, notify_step_moved, notify_task_ready
from engine.core.runtime import Runtime
from engine.core.scripting import make_script_engine
from engine.core.spiff_state import StateStore
from engine.method.funds import release
from engine.method.policy import SevenStepPolicy
from engine.mining.fold import fold_events


@dataclass
class Services:
    settings: Settings
    db: Engine
    session_factory: sessionmaker[Session]
    runtime: Runtime


def build_hooks() -> Hooks:
    """The listeners of the core's extension points: new tasks, hand-overs and a followed
    project's next step notify their people, a terminated project releases its funds,
    written events are folded for mining."""
    return Hooks(task_ready=[notify_task_ready], terminated=[release_funds], events_written=[fold_events],
                 task_handed_over=[notify_handed_over], step_moved=[notify_step_moved])


def build_services(settings: Settings, clock: Callable[[], datetime] | None = None) -> Services:
    """The database, the session factory and a runtime with the restricted script engine."""
    db = make_engine(settings.database_url, settings.sqlite_busy_seconds, settings.db_pool_size)
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    offset = settings.calendar_utc_offset_hours
    runtime = Runtime(StateStore(), SpecCache(), SevenStepPolicy(), make_script_engine(settings), hooks=build_hooks(),
                      job_retries=settings.job_retries,
                      working_days=lambda session, start, days: workdays.due(session, start, days, offset), **extra)
    return Services(settings, db, make_session_factory(db), runtime)


def release_funds(session: Session, instance: Any, now: datetime) -> None:
    """A terminated project gives back the funds earmarked for it and not yet paid."""
    release(session, None, instance.id, now, note="project terminated")
