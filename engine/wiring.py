"""Wiring: the collaborators an entry point (web app, worker, CLI) needs, built from settings."""
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from engine.config import Settings
from engine.core.db import make_engine, make_session_factory
from engine.core.deployments import SpecCache
from engine.method.funds import release
from engine.core.notifications import notify_task_ready
from engine.core.runtime import Runtime
from engine.core.scripting import make_script_engine
from engine.core.spiff_state import StateStore


@dataclass
class Services:
    settings: Settings
    db: Engine
    session_factory: object
    runtime: Runtime


def build_services(settings, clock=None):
    """The database, the session factory and a runtime with the restricted script engine."""
    db = make_engine(settings.database_url)
    extra = {"clock": clock} if clock is not None else {}
    runtime = Runtime(StateStore(), SpecCache(), make_script_engine(settings), on_task_ready=[notify_task_ready],
                      on_terminated=[release_funds], job_retries=settings.job_retries, **extra)
    return Services(settings, db, make_session_factory(db), runtime)


def release_funds(session, instance, now):
    """A terminated project gives back the funds earmarked for it and not yet paid."""
    release(session, None, instance.id, now, note="project terminated")
