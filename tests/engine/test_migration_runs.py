"""Moving many running projects onto a new version in committed batches: ``sanshe migrate``
prints its progress, and killed half-way it goes on where it stopped, moving nothing twice;
a run started elsewhere (the admin pages) is moved on in the background."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.core import migration_runs
from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from engine.core.models import AuditEntry, Instance, User
from engine.errors import ValidationError
from tests import diagram_edits as edits
from tests.factories import make_world

ROOT = Path(__file__).resolve().parents[2]


def world_with_projects(services, count):
    bpmn, forms = read_bundle([edits.PROCESSES])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
        world = make_world(session)
        session.flush()
        org = session.get(User, world.users.org.id)
        ids = [services.runtime.start_instance(session, "seven_step_project", org, {
            "title": f"批量迁移 {n}", "organization_id": world.org.id, "catalog_item_id": world.item.id}).id
            for n in range(count)]
        xml = edits.set_param(edits.original(), "tally_votes", "pass_ratio", "2/3")
        deploy(session, services.runtime.spec_cache, {"seven_step_project.bpmn": xml}, forms, "admin")
    return ids


def versions_of(services, ids):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return [session.get(Instance, i).definition_id for i in ids]


def moves_recorded(services):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return session.execute(select(AuditEntry.target, func.count()).where(AuditEntry.action == "migrate")
                               .group_by(AuditEntry.target)).all()


@pytest.mark.slow
def test_the_command_killed_half_way_goes_on_where_it_stopped(services, db_url):
    ids = world_with_projects(services, 24)
    env = dict(os.environ, SANSHE_DATABASE_URL=db_url, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "cli", "migrate", "seven_step_project", "--to", "2", "--batch", "4"]
    lines = []
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as first:
        for line in first.stdout:
            lines.append(line)
            if line.startswith("batch 1:"):
                first.send_signal(signal.SIGKILL)  # no chance to tidy up: as a crash or a power cut
                break
        first.wait(timeout=60)
    assert lines[0].startswith("run 1: 24 project(s) to move onto seven_step_project version 2, 4 per batch")
    assert lines[-1].startswith("batch 1: 4/24 handled, 4 moved"), lines
    moved_before = sum(v == 2 for v in versions_of(services, ids))
    assert 4 <= moved_before < 24 and moved_before % 4 == 0  # whole batches only

    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = second.stdout.splitlines()
    assert second.returncode == 0, second.stdout + second.stderr
    assert out[0] == f"resuming run 1: {moved_before} of 24 handled, {moved_before} moved (its own choice of projects holds)"
    assert out[1].startswith(f"batch {moved_before // 4 + 1}: {moved_before + 4}/24 handled")
    assert out[-1] == "done: 24 of 24 project(s) now on version 2"
    assert versions_of(services, ids) == [2] * 24
    recorded = moves_recorded(services)
    assert len(recorded) == 24 and {n for _target, n in recorded} == {1}  # each moved once

    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "No running project of seven_step_project is on a version older than 2" in (
        again.stdout + again.stderr)


def test_a_run_refuses_nothing_to_move_and_moves_in_the_background(services):
    ids = world_with_projects(services, 5)
    with unit_of_work(services.session_factory) as session:
        with pytest.raises(ValidationError):
            migration_runs.start_run(session, 2, "admin", [999_999])
        with pytest.raises(ValidationError):
            migration_runs.start_run(session, 2, "admin", ids, batch_size=0)
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert migration_runs.pending_runs(session) == []
    with unit_of_work(services.session_factory) as session:
        run_id = migration_runs.start_run(session, 2, "admin", ids[:4], batch_size=3).id
    assert versions_of(services, ids) == [1] * 5  # queued: nothing moved yet
    assert migration_runs.run_pending(services.runtime, services.session_factory) == 1
    assert versions_of(services, ids) == [2, 2, 2, 1, 1]
    assert migration_runs.run_pending(services.runtime, services.session_factory) == 1
    assert migration_runs.run_pending(services.runtime, services.session_factory) == 0
    assert versions_of(services, ids) == [2, 2, 2, 2, 1]  # the fifth was not chosen
    with unit_of_work(services.session_factory, readonly=True) as session:
        run = migration_runs.get_run(session, run_id)
        assert (run.state, run.handled, run.moved, run.batches, run.refused) == ("done", 4, 4, 2, [])


@pytest.mark.slow
def test_the_scheduler_moves_a_run_started_in_the_admin_pages_a_batch_per_pass(services, db_url):
    ids = world_with_projects(services, 3)
    with unit_of_work(services.session_factory) as session:
        migration_runs.start_run(session, 2, "admin", ids, batch_size=2)
    env = dict(os.environ, SANSHE_DATABASE_URL=db_url, PYTHONPATH=str(ROOT))
    for expected in ([2, 2, 1], [2, 2, 2]):
        done = subprocess.run([sys.executable, "-m", "cli", "scheduler", "--once"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert versions_of(services, ids) == expected


class StorageAway:
    """The real runtime, except that moving a project fails (as a disk or a service away
    would) while ``failing`` is set: a failure that is not a conflict."""

    def __init__(self, runtime):
        self.runtime, self.failing = runtime, True

    def clock(self):
        return self.runtime.clock()

    def migration_diff(self, session, instance_id, definition_id):
        return self.runtime.migration_diff(session, instance_id, definition_id)

    def migrate_instance(self, session, instance_id, definition_id, actor, dry_run=False):
        if self.failing and not dry_run:
            raise OSError("No space left on device")
        return self.runtime.migrate_instance(session, instance_id, definition_id, actor, dry_run)


def test_a_batch_that_keeps_failing_stops_the_run_until_it_is_resumed(services):
    ids = world_with_projects(services, 3)
    with unit_of_work(services.session_factory) as session:
        run_id = migration_runs.start_run(session, 2, "admin", ids, batch_size=2).id
    runtime = StorageAway(services.runtime)
    for attempt in range(1, migration_runs.MAX_FAILURES + 1):
        assert migration_runs.run_pending(runtime, services.session_factory) == 0
        with unit_of_work(services.session_factory, readonly=True) as session:
            run = migration_runs.get_run(session, run_id)
            assert (run.failures, run.handled, run.batches) == (attempt, 0, 0)  # rolled back whole
            assert str(run.error_text) == "Unexpected error OSError: No space left on device"
            expected = "failed" if attempt == migration_runs.MAX_FAILURES else "queued"
            assert run.state == expected
    assert versions_of(services, ids) == [1, 1, 1]
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert migration_runs.pending_runs(session) == []  # the scheduler leaves it alone
        assert migration_runs.unfinished_run(session, 2).id == run_id  # no new run meanwhile
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "migration_failed")).all()
        assert entry.target == f"migration run {run_id}" and "No space left on device" in entry.details["reason"]
    runtime.failing = False
    assert migration_runs.run_pending(runtime, services.session_factory) == 0  # still stopped
    with unit_of_work(services.session_factory) as session:
        migration_runs.resume_run(session, run_id, "admin")
        with pytest.raises(ValidationError):
            migration_runs.resume_run(session, run_id, "admin")  # only a stopped run resumes
    while migration_runs.run_pending(runtime, services.session_factory):
        pass
    assert versions_of(services, ids) == [2, 2, 2]
    with unit_of_work(services.session_factory, readonly=True) as session:
        run = migration_runs.get_run(session, run_id)
        assert (run.state, run.failures, run.error, run.moved) == ("done", 0, None, 3)


def test_the_command_resumes_a_run_that_stopped(services, db_url):
    ids = world_with_projects(services, 2)
    with unit_of_work(services.session_factory) as session:
        run_id = migration_runs.start_run(session, 2, "admin", ids).id
    runtime = StorageAway(services.runtime)
    for _ in range(migration_runs.MAX_FAILURES):
        migration_runs.run_pending(runtime, services.session_factory)
    env = dict(os.environ, SANSHE_DATABASE_URL=db_url, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "cli", "migrate", "seven_step_project", "--to", "2"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    assert out[0] == f"run {run_id} had stopped: Unexpected error OSError: No space left on device"
    assert out[-1] == "done: 2 of 2 project(s) now on version 2"
    assert versions_of(services, ids) == [2, 2]
