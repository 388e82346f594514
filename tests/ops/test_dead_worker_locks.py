"""A worker process killed with jobs in hand: the next worker on the host fetches them at
once instead of waiting out their locks; a live worker's locks are left alone."""
import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from engine.core.db import unit_of_work
from engine.core.jobs import JobQueue
from engine.core.models import Job, utcnow
from tests.webui.conftest import build_web, start_project
from workers.worker import free_jobs_of_dead_workers


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch):
    from engine.core import users as user_store
    from tests.factories import FAST_HASHER
    monkeypatch.setattr(user_store, "_hasher", FAST_HASHER)


def gone_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_jobs_of_a_dead_worker_are_fetched_at_once(services):
    web = build_web(services)
    instance_id = start_project(web)
    host = socket.gethostname()
    holders = {"dead": f"{host}:{gone_pid()}", "dead_thread": f"{host}:{gone_pid()}:1",
               "alive": f"{host}:{os.getppid()}", "elsewhere": f"another-host:{gone_pid()}"}
    until = utcnow() + timedelta(seconds=60)
    with unit_of_work(services.session_factory) as session:
        for name, worker_id in holders.items():
            session.add(Job(instance_id=instance_id, task_id=f"job-{name}", bpmn_id=f"svc_{name}", topic="notify",
                            state="locked", worker_id=worker_id, lock_token=f"token-{name}", lock_expires_at=until))
    queue = JobQueue(services.settings, services.runtime)
    assert free_jobs_of_dead_workers(services.session_factory, queue) == 2
    with unit_of_work(services.session_factory) as session:
        fetched = queue.fetch_and_lock(session, ["notify"], "next-worker", 10)
        assert sorted(job.bpmn_id for job in fetched) == ["svc_dead", "svc_dead_thread"]
    with unit_of_work(services.session_factory, readonly=True) as session:
        kept = {job.bpmn_id: job.worker_id for job in session.query(Job).where(Job.bpmn_id.in_(
            ["svc_alive", "svc_elsewhere"]))}
    assert kept == {"svc_alive": holders["alive"], "svc_elsewhere": holders["elsewhere"]}
    assert free_jobs_of_dead_workers(services.session_factory, queue) == 0
