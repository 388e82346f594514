"""Fixtures for the worker tests: a database per backend, a hand-driven clock, seed rows.

PostgreSQL tests run whenever 127.0.0.1:5432 answers (and under CI=true they must: a
missing server fails them instead of skipping). They use a schema of their own, created
for the test session and dropped afterwards, so other test modules never collide.
"""
from datetime import datetime, timedelta

import pytest
from engine.config import load_settings
from engine.core.db import make_engine, make_session_factory, unit_of_work, upgrade_schema
from engine.core.db import Base
from engine import all_models  # noqa: F401
from engine.core.deployments import deploy, read_bundle
from engine.core.jobs import JobQueue
from engine.core.testing import QueueOnlyRuntime
from engine.method.models import Budget

from tests import diagram_edits as edits
from tests.conftest import pg_schema
from tests.factories import make_world

from .seed import Seed

class Clock:
    """A clock tests move by hand (naive UTC, like the engine's)."""

    def __init__(self, start=None):
        self.now = start or datetime(2024, 3, 1, 9, 0, 0)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)


class Db:
    def __init__(self, url, backend):
        self.url = url
        self.backend = backend
        self.engine = make_engine(url)
        self.session_factory = make_session_factory(self.engine)
        self.settings = load_settings(database_url=url, job_backoff_seconds=2.0, job_retries=3, job_lock_seconds=60)

    def uow(self, readonly=False):
        return unit_of_work(self.session_factory, readonly=readonly)

    def truncate(self):
        names = [t.name for t in reversed(Base.metadata.sorted_tables)]
        # DELETE beats TRUNCATE on a handful of rows (TRUNCATE rewrites every table).
        with self.engine.begin() as conn:
            for name in names:
                conn.exec_driver_sql(f"DELETE FROM {name}")


@pytest.fixture(scope="session")
def pg_db():
    with pg_schema("sanshe_workers") as url:
        db = Db(url, "postgresql")
        upgrade_schema(db.engine)
        yield db
        db.engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path):
    db = Db(f"sqlite:///{tmp_path / 'sanshe.db'}", "sqlite")
    upgrade_schema(db.engine)
    yield db
    db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request):
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_db")
    pg = request.getfixturevalue("pg_db")
    pg.truncate()
    return pg


@pytest.fixture
def pg(pg_db):
    """PostgreSQL only, emptied: for races that only matter between server connections."""
    pg_db.truncate()
    return pg_db


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def queue(db, clock):
    return JobQueue(db.settings, QueueOnlyRuntime(clock), clock=clock)


@pytest.fixture
def seed(db):
    with db.uow() as session:
        return Seed.pilot(session)


@pytest.fixture
def draft(services):
    """The seven-step diagram deployed with a world of people and this year's town budget,
    ready for a trial run: returns its ``(bpmn files, forms)``."""
    bpmn, forms = read_bundle([edits.PROCESSES])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
        world = make_world(session)
        session.add(Budget(town_id=world.town.id, year=datetime.now().year, total_fen=100_000_000))
    return bpmn, forms


DATA = __import__("pathlib").Path(__file__).resolve().parent.parent / "data" / "workers"


class World:
    """The real engine on the test database: the fixture diagram deployed, a budget set."""

    def __init__(self, db, budget_yuan=1_000_000, **overrides):
        from engine.method import funds
        from engine.core.deployments import deploy
        from engine.wiring import build_services

        settings = load_settings(database_url=db.url, **{"job_backoff_seconds": 2.0, **overrides})
        self.db = db
        self.services = build_services(settings)
        with db.uow() as session:
            self.seed = Seed.pilot(session)
            deploy(session, self.services.runtime.spec_cache,
                   {"earmark_batch.bpmn": (DATA / "earmark_batch.bpmn").read_text(encoding="utf-8")}, {}, "admin")
            if budget_yuan:
                funds.set_budget(session, self.seed.town_id, 2024, budget_yuan)

    def start(self, n, budget_total="100.01"):
        from engine.core.models import User
        ids = []
        with self.db.uow() as session:
            lead = session.get(User, self.seed.users["lead"])
            for i in range(n):
                instance = self.services.runtime.start_instance(session, "earmark_batch", lead, {
                    "title": f"project {i}", "catalog_item_id": self.seed.item_ids["elderly_care"],
                    "organization_id": self.seed.org_ids["sunshine"], "budget_total": budget_total})
                ids.append(instance.id)
        return ids

    def close(self):
        self.services.db.dispose()


@pytest.fixture
def world(db):
    world = World(db)
    yield world
    world.close()
