"""A PostgreSQL schema of a benchmark's own, dropped when the run ends."""
import os
from contextlib import contextmanager

from sqlalchemy import text

from engine.core.db import make_engine

PG_URL = os.environ.get("SANSHE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def pg_schema(admin_url, name):
    """Create schema ``name``; yield a URL whose connections work in it; drop it afterwards."""
    admin = make_engine(admin_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        yield f"{admin_url}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()
