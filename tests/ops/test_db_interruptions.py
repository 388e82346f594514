"""Database interruptions are survived: every PostgreSQL connection cut, or SQLite's write
lock held elsewhere, gives people no error 500 and stops no worker."""
import sqlite3
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, event, text

from engine.core.db import unit_of_work
from tests.conftest import PG_ADMIN_URL, make_services
from tests.webui.conftest import Client, build_web, ready_task, start_project


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch):
    from engine.core import users as user_store
    from tests.factories import FAST_HASHER
    monkeypatch.setattr(user_store, "_hasher", FAST_HASHER)


def cut_every_connection(application_name: str) -> int:
    """What an administrator's pg_terminate_backend (or a database restart) does to the app."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name}).all())
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_cutting_every_postgresql_connection_gives_no_error_500(pg_schema_url):
    name = f"sanshe_cut_{uuid.uuid4().hex[:8]}"
    services = make_services(f"{pg_schema_url}&application_name={name}")
    try:
        web = build_web(services)
        instance_id = start_project(web)
        task = ready_task(web, instance_id)
        people = [Client(web.app) for _ in range(3)]
        for person in people:
            assert person.login("committee").status_code == 302
        # Several pooled connections open, as under load.
        for person in people:
            assert person.get("/inbox").status_code == 200
        for _round in range(3):
            assert cut_every_connection(name) >= 1
            fresh = Client(web.app)
            assert fresh.login("committee").status_code == 302  # sign-in
            assert cut_every_connection(name) >= 1
            for person in people:
                assert person.get("/inbox").status_code == 200  # inbox
                assert person.get(f"/tasks/{task.id}").status_code == 200  # task page
        assert people[0].post(f"/tasks/{task.id}/claim").status_code == 302
        cut_every_connection(name)
        assert "确认转移事项" in people[0].get("/inbox?view=mine").get_data(as_text=True)
    finally:
        services.db.dispose()


@pytest.mark.postgres
def test_a_connection_cut_in_the_middle_of_a_request_is_tried_once_more(pg_schema_url):
    name = f"sanshe_mid_{uuid.uuid4().hex[:8]}"
    services = make_services(f"{pg_schema_url}&application_name={name}")
    try:
        web = build_web(services)
        task = ready_task(web, start_project(web))
        person = Client(web.app)
        assert person.login("committee").status_code == 302
        cuts = []

        # The administrator ends the connection just as the page's query is sent (after the
        # pool's check passed): the first try fails on the wire, the second one is served.
        @event.listens_for(services.db, "before_cursor_execute")
        def cut_once(conn, _cursor, statement, *_args):
            if not cuts and "FROM tasks" in statement:
                cuts.append(statement)
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
                with admin.connect() as other:
                    other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                admin.dispose()

        response = person.get(f"/tasks/{task.id}")
        assert cuts, "the cut happened"
        assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
        cuts.clear()
        assert person.post(f"/tasks/{task.id}/claim").status_code == 302
        assert cuts
        event.remove(services.db, "before_cursor_execute", cut_once)
        assert "确认转移事项" in person.get("/inbox?view=mine").get_data(as_text=True)
    finally:
        services.db.dispose()


@pytest.mark.postgres
def test_a_pooled_connection_the_server_ended_is_replaced_before_use(pg_schema_url):
    """The pool checks a connection when it hands it out, without a query to the server:
    one the server has ended is dropped and a new one serves the statement, no error."""
    name = f"sanshe_idle_{uuid.uuid4().hex[:8]}"
    services = make_services(f"{pg_schema_url}&application_name={name}")
    statements = []
    event.listen(services.db, "before_cursor_execute", lambda _c, _cur, statement, *_a: statements.append(statement))
    try:
        with services.db.connect() as conn:
            first = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert cut_every_connection(name) == 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the ended backend is gone from the server
            admin = create_engine(PG_ADMIN_URL)
            with admin.connect() as other:
                alive = other.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                      {"pid": first}).scalar()
            admin.dispose()
            if not alive:
                break
            time.sleep(0.05)
        statements.clear()
        with services.db.connect() as conn:
            second = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert second != first
        assert statements == ["SELECT pg_backend_pid()"]  # no SELECT 1 before it
    finally:
        services.db.dispose()


def hold_write_lock(path: str, seconds: float, taken: threading.Event) -> None:
    """Another program holding SQLite's write lock (an open write transaction)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    taken.set()
    time.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()


def start_lock(path: str, seconds: float) -> threading.Thread:
    taken = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, seconds, taken))
    holder.start()
    assert taken.wait(10)
    return holder


def test_sqlite_write_lock_held_elsewhere_makes_requests_wait_not_fail(sqlite_url):
    # The same as production's 75 s against a lock held for a minute, shortened for the test.
    services = make_services(sqlite_url, sqlite_busy_seconds=4.0)
    path = sqlite_url[len("sqlite:///"):]
    try:
        web = build_web(services)
        task = ready_task(web, start_project(web))
        person = Client(web.app)
        assert person.login("committee").status_code == 302
        holder = start_lock(path, 2.5)
        started = time.monotonic()
        assert person.get("/inbox").status_code == 200  # readers do not wait at all
        assert time.monotonic() - started < 2
        response = person.post(f"/tasks/{task.id}/claim")  # a writer waits for the lock, then goes on
        waited = time.monotonic() - started
        holder.join()
        assert response.status_code == 302, response.get_data(as_text=True)
        assert waited >= 2
        assert "确认转移事项" in person.get("/inbox?view=mine").get_data(as_text=True)

        # Held longer than anyone waits: a clear "try again" page in Chinese, nothing saved.
        holder = start_lock(path, 6)
        response = person.post(f"/tasks/{task.id}/unclaim")
        holder.join()
        page = response.get_data(as_text=True)
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert "数据库繁忙" in page and "没有保存" in page
        assert "确认转移事项" in person.get("/inbox?view=mine").get_data(as_text=True)
        assert person.post(f"/tasks/{task.id}/unclaim").status_code == 302  # trying again works
        assert "确认转移事项" not in person.get("/inbox?view=mine").get_data(as_text=True)
    finally:
        services.db.dispose()


def test_sqlite_lock_held_longer_than_the_wait_stops_neither_worker_nor_scheduler(sqlite_url, tmp_path):
    """Real processes: both find the database busy, pause, try again, and carry on."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from engine.core.heartbeats import Heartbeat

    root = Path(__file__).resolve().parents[2]
    services = make_services(sqlite_url)
    env = dict(os.environ, SANSHE_DATABASE_URL=sqlite_url, PYTHONPATH=str(root), SANSHE_SQLITE_BUSY_SECONDS="1",
               SANSHE_SCHEDULER_INTERVAL="0.2")
    logs = {name: open(tmp_path / f"{name}.log", "w+") for name in ("worker", "scheduler")}
    processes = {name: subprocess.Popen([sys.executable, "-m", "cli", name], cwd=root, env=env,
                                        stdout=logs[name], stderr=subprocess.STDOUT) for name in logs}

    def beats():
        with unit_of_work(services.session_factory, readonly=True) as session:
            return {row.kind: row.beat_at for row in session.query(Heartbeat)}

    try:
        deadline = time.monotonic() + 60
        while len(beats()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert set(beats()) == {"worker", "scheduler"}, {n: (tmp_path / f"{n}.log").read_text() for n in logs}
        holder = start_lock(sqlite_url[len("sqlite:///"):], 8)
        holder.join()
        before = beats()
        assert all(p.poll() is None for p in processes.values())
        for name in logs:
            text_ = (tmp_path / f"{name}.log").read_text()
            assert "database is locked" in text_, text_
        # The scheduler beats again within seconds of the lock's end: it goes on.
        deadline = time.monotonic() + 30
        while beats()["scheduler"] <= before["scheduler"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert beats()["scheduler"] > before["scheduler"]
        assert all(p.poll() is None for p in processes.values())
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(30)
        for handle in logs.values():
            handle.close()
        services.db.dispose()
