"""`sanshe backup` while projects run, `sanshe restore` into a fresh database, and the
projects go on there (real commands, real SQLite and PostgreSQL)."""
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from engine.core.db import unit_of_work
from engine.core.models import Event, Instance, Job, Task, Timer, User
from engine.method.driver import fill
from tests.conftest import PG_ADMIN_URL, make_services
from tests.drive import USERS_BY_ROLE, voted_choices, work
from tests.webui.conftest import build_web, start_project

ROOT = Path(__file__).resolve().parents[2]
# Where the test stops a project (the town's purchase decision needs money set aside first).
FAR_ENOUGH = "purchase_decision"


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch):
    from engine.core import users as user_store
    from tests.factories import FAST_HASHER
    monkeypatch.setattr(user_store, "_hasher", FAST_HASHER)


def sanshe(url, *args):
    env = dict(os.environ, SANSHE_DATABASE_URL=url, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def step(services, instance_id) -> bool:
    """One person's step on the project (its oldest open task), then the workers; False
    when the project has no open task."""
    with unit_of_work(services.session_factory) as session:
        row = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
                              .order_by(Task.created_at, Task.id)).first()
        if row is None or row.bpmn_id == FAR_ENOUGH:
            return False
        user = session.scalar(select(User).where(User.username == (row.assignee or USERS_BY_ROLE[row.role])))
        data = fill(services.runtime.task_form(session, row.id, user), voted_choices(30000))
        services.runtime.complete_task(session, row.id, user, data)
    work(services)
    return True


def events(services) -> int:
    with unit_of_work(services.session_factory, readonly=True) as session:
        return session.scalar(select(func.count()).select_from(Event))


@pytest.fixture(params=["sqlite", "postgresql"])
def source_and_fresh(request, tmp_path):
    """The live database's URL and an empty one to restore into."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'restored.db'}"
        return
    source = request.getfixturevalue("pg_schema_url")
    schema = source.rsplit("%3D", 1)[1]
    name = f"sanshe_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield source, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_backup_while_projects_run_restores_and_the_projects_continue(source_and_fresh, tmp_path):
    source_url, fresh_url = source_and_fresh
    services = make_services(source_url)
    web = build_web(services)
    projects = [start_project(web, title=f"项目 {i}") for i in range(3)]
    for instance_id in projects:
        step(services, instance_id)

    stop, errors, steps = threading.Event(), [], [0]

    def people_at_work():
        # At most 7 steps a project (of the 12 before the purchase decision): some are left
        # to take in the restored database.
        try:
            for _ in range(7):
                for instance_id in projects:
                    if stop.is_set():
                        return
                    if step(services, instance_id):
                        steps[0] += 1
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    worker = threading.Thread(target=people_at_work)
    worker.start()
    try:
        while steps[0] < 3 and not errors:
            stop.wait(0.1)
        backup_file = tmp_path / "sanshe.backup"
        before_backup = steps[0]
        done = sanshe(source_url, "backup", str(backup_file))
        during = steps[0] - before_backup
    finally:
        stop.set()
        worker.join(120)
    assert not errors, errors
    assert done.returncode == 0, done.stderr
    assert "backed up" in done.stdout and backup_file.stat().st_size > 0
    assert during > 0, "projects moved on while the backup ran"
    # A second backup to the same name would overwrite the first: refused.
    assert sanshe(source_url, "backup", str(backup_file)).returncode == 1
    services.db.dispose()

    done = sanshe(fresh_url, "restore", str(backup_file))
    assert done.returncode == 0, done.stderr
    again = sanshe(fresh_url, "restore", str(backup_file))
    assert again.returncode == 1 and "not empty" in again.stderr

    restored = make_services(fresh_url)
    try:
        with unit_of_work(restored.session_factory, readonly=True) as session:
            running = session.scalars(select(Instance.id).where(Instance.id.in_(projects))).all()
            assert sorted(running) == sorted(projects)
            for instance_id in projects:
                waiting = (session.scalar(select(func.count()).select_from(Task).where(
                    Task.instance_id == instance_id, Task.state == "ready"))
                    + session.scalar(select(func.count()).select_from(Job).where(
                        Job.instance_id == instance_id, Job.state.in_(("ready", "locked"))))
                    + session.scalar(select(func.count()).select_from(Timer).where(
                        Timer.instance_id == instance_id, Timer.state == "waiting")))
                assert waiting >= 1, f"project {instance_id} has nothing to go on with"
        before = events(restored)
        for instance_id in projects:  # every project goes on in the restored database
            assert step(restored, instance_id)
            while step(restored, instance_id):
                pass
        assert events(restored) > before
        with unit_of_work(restored.session_factory, readonly=True) as session:
            assert set(session.scalars(select(Task.bpmn_id).where(
                Task.instance_id.in_(projects), Task.state == "ready"))) == {FAR_ENOUGH}
    finally:
        restored.db.dispose()


def test_restore_refuses_a_backup_of_the_other_kind_and_a_missing_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    fake = tmp_path / "dump.backup"
    fake.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 100)
    done = sanshe(url, "restore", str(fake))
    assert done.returncode == 1 and "is a PostgreSQL backup" in done.stderr
    done = sanshe(url, "restore", str(tmp_path / "nothing.backup"))
    assert done.returncode == 1 and "no backup file" in done.stderr
