"""Several hosts on one PostgreSQL: two schedulers running at once fire every timer once."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.core.models import Event, Timer
from tests.conftest import make_services
from tests.engine.test_timers import deploy_one, open_tasks, start
from tests.engine.timer_diagrams import diagram

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.postgres
def test_two_schedulers_fire_each_timer_once(pg_schema_url):
    services = make_services(pg_schema_url)
    try:
        world = deploy_one(services, diagram("intermediate", "timeDuration", "PT2S"), "timer_intermediate")
        instances = [start(services, world, "timer_intermediate") for _ in range(30)]
    finally:
        services.db.dispose()
    env = dict(os.environ, SANSHE_DATABASE_URL=pg_schema_url, PYTHONPATH=str(ROOT), SANSHE_SCHEDULER_INTERVAL="0.05")
    schedulers = [subprocess.Popen([sys.executable, "-m", "cli", "scheduler"], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    services = make_services(pg_schema_url)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with unit_of_work(services.session_factory, readonly=True) as session:
                if not session.scalar(select(func.count()).select_from(Timer).where(Timer.state == "waiting")):
                    break
            time.sleep(0.2)
        time.sleep(1)  # a second firing, if there were one, would land now
        for instance_id in instances:
            assert open_tasks(services, instance_id) == ["after"]
        with unit_of_work(services.session_factory, readonly=True) as session:
            fired = session.execute(select(Event.instance_id, func.count()).where(
                Event.instance_id.in_(instances), Event.activity_id == "after", Event.transition == "schedule")
                .group_by(Event.instance_id)).all()
            assert sorted(fired) == sorted((i, 1) for i in instances)
            timers = session.execute(select(Timer.instance_id, Timer.id, Timer.state, Timer.bpmn_id, Timer.task_id).where(
                Timer.instance_id.in_(instances)).order_by(Timer.instance_id, Timer.id)).all()
            assert {state for _i, _t, state, _b, _k in timers} == {"fired"}, timers
        assert all(s.poll() is None for s in schedulers)
    finally:
        services.db.dispose()
        outputs = []
        for process in schedulers:
            process.terminate()
            outputs.append(process.communicate(timeout=30)[0])
    fired_by = [sum(1 for line in out.splitlines() if "fired timer" in line) for out in outputs]
    assert sum(fired_by) == 30, outputs
