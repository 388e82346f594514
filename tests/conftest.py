"""Shared fixtures: a real database (SQLite file, and PostgreSQL when it answers)."""
import os
import socket
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from engine.config import load_settings
from engine.core.db import upgrade_schema
from engine.wiring import build_services

PG_ADMIN_URL = os.environ.get("SANSHE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_answers():
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def require_postgres():
    """Skip without PostgreSQL, except under CI where it must run."""
    if not postgres_answers():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 does not answer")


@contextmanager
def pg_schema(prefix):
    """A fresh PostgreSQL schema (skipped without a server, failed under CI); yields a URL
    whose connections work in it, and drops it afterwards."""
    require_postgres()
    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_schema_url():
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    with pg_schema("t") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'sanshe.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sanshe.db'}"
    return request.getfixturevalue("pg_schema_url")


@contextmanager
def restarted(url):
    """A new engine on the same database: no hot instances, no parsed specs."""
    services = make_services(url)
    try:
        yield services
    finally:
        services.db.dispose()


def make_services(url, **overrides):
    settings = load_settings(database_url=url, **overrides)
    services = build_services(settings)
    upgrade_schema(services.db)
    return services


@pytest.fixture
def services(db_url):
    services = make_services(db_url)
    yield services
    services.db.dispose()


@pytest.fixture
def sqlite_services(sqlite_url):
    services = make_services(sqlite_url)
    yield services
    services.db.dispose()
