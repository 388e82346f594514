"""Wiring: the collaborators an entry point (web app, worker, CLI) needs, built from settings."""
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from .config import Settings
from .db import make_engine, make_session_factory
from .deployments import SpecCache
from .runtime import Runtime
from .spiff import StateStore


@dataclass
class Services:
    settings: Settings
    db: Engine
    session_factory: object
    runtime: Runtime


def make_script_engine(settings):
    """The restricted script engine diagrams run with."""
    from .scripting import make_script_engine as make
    return make(settings)


def build_services(settings, clock=None):
    db = make_engine(settings.database_url)
    runtime_kwargs = {"job_retries": settings.job_retries}
    if clock is not None:
        runtime_kwargs["clock"] = clock
    hooks = []
    try:
        from .notifications import notify_task_ready
        hooks.append(notify_task_ready)
    except ImportError:
        pass
    runtime = Runtime(StateStore(), SpecCache(), _script_engine(settings), on_task_ready=hooks, **runtime_kwargs)
    return Services(settings, db, make_session_factory(db), runtime)


def _script_engine(settings):
    try:
        return make_script_engine(settings)
    except ImportError:
        return None
