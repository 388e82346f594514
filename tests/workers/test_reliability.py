"""Crashes and races: kill -9 workers mid-job, many times; 4 processes racing on PostgreSQL;
SIGTERM finishes the job in hand and gives the rest back."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from workers.race import run_case
from engine.method import funds
from engine.core.models import Instance, Job, Notification
from engine.method.models import LedgerEntry
from workers.registry import TOPICS
from workers.worker import run_workers

ROOT = Path(__file__).resolve().parents[2]


def spawn(module, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", module, *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def working(world, proc, timeout=60):
    """Wait until the worker process has locked its first job (it has started up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with world.db.uow(readonly=True) as session:
            if session.scalar(select(func.count()).select_from(Job).where(Job.worker_id.like(f"%:{proc.pid}"))):
                return True
        time.sleep(0.01)
    return False


def test_kill_9_in_the_middle_of_jobs_loses_nothing_and_doubles_nothing(world):
    ids = world.start(40)
    rng = random.Random(7)
    kills = 0
    for _ in range(10):
        proc = spawn("tests.workers.crash_worker", world.db.url, 1)
        # Killed a moment after it started taking jobs (not while it was still importing).
        started = working(world, proc)
        time.sleep(rng.uniform(0.02, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert started, "the worker process never took a job"
        kills += 1
    # A last worker, not killed, finishes what is left once the dead workers' locks expire.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run_workers(world.services, TOPICS, install_signals=False, until_idle=True, lock_seconds=1)
        with world.db.uow(readonly=True) as session:
            running = session.scalar(select(func.count()).select_from(Instance)
                                     .where(Instance.id.in_(ids), Instance.status == "running"))
        if not running:
            break
        time.sleep(0.3)
    with world.db.uow(readonly=True) as session:
        outcomes = session.scalars(select(Instance.outcome).where(Instance.id.in_(ids))).all()
        jobs = session.scalars(select(Job)).all()
        earmarks = session.scalars(select(LedgerEntry.instance_id)).all()
        notices = session.scalars(select(Notification.job_id).where(Notification.job_id.isnot(None))).all()
        figures = funds.balance(session, world.seed.town_id, 2024)
    assert kills == 10 and outcomes == ["Funded"] * 40
    assert {j.state for j in jobs} == {"completed"} and len(jobs) == 80
    assert sorted(earmarks) == sorted(ids)  # one earmark per project, none twice
    assert len(notices) == len(set(notices)) == 40
    assert figures["committed_fen"] == figures["ledger_committed_fen"] == 40 * 10001
    assert any(j.attempts > 1 for j in jobs), "no kill landed while a job was locked"


def test_four_worker_processes_racing_over_2000_jobs_process_each_once(pg):
    result = run_case(pg.url, 2000, 4)
    assert (result["jobs"], result["duplicates"], result["left"]) == (2000, 0, 0)
    assert len(result["per_worker"]) == 4 and min(result["per_worker"]) > 0


def test_sigterm_finishes_the_job_in_hand_and_releases_the_rest(world):
    world.start(30)
    proc = spawn("tests.workers.crash_worker", world.db.url, 600)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with world.db.uow(readonly=True) as session:
            if session.scalar(select(func.count()).select_from(Job).where(Job.state == "completed")):
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()
    with world.db.uow(readonly=True) as session:
        locked = session.scalar(select(func.count()).select_from(Job).where(Job.state == "locked"))
        done = session.scalar(select(func.count()).select_from(Job).where(Job.state == "completed"))
    assert locked == 0 and done >= 1  # a 600 s lock would otherwise hold them for ten minutes
