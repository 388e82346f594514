"""Every standard timer SpiffWorkflow runs, run by Sanshe's scheduler on a real database:
durations, dates and cycles on intermediate events, interrupting and non-interrupting
boundary events, event-subprocess starts and start events; timer text as the standard
writes it and as an expression."""
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.deployments import deploy
from engine.core.models import Event, Instance, Task, Timer, User, utcnow
from engine.core.scheduler import retry_timer, run_pass, timer_incidents
from engine.core.validation import validate_bundle
from engine.errors import ConflictError
from tests.engine.timer_diagrams import diagram
from tests.factories import make_world

ROOT = Path(__file__).resolve().parents[2]
ROLES = {"community_committee"}
DATE = "2027-01-01T09:00:00+08:00"
DATE_UTC = datetime(2027, 1, 1, 1, 0)


class Clock:
    """The engine's clock, moved by the test."""

    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


def deploy_one(services, xml, key):
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, {f"{key}.bpmn": xml}, {}, "admin")
        return make_world(session)


def start(services, world, key):
    with unit_of_work(services.session_factory) as session:
        org = session.get(User, world.users.org.id)
        return services.runtime.start_instance(
            session, key, org, {"title": "定时器", "organization_id": world.org.id, "catalog_item_id": world.item.id}).id


def open_tasks(services, instance_id):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return sorted(session.scalars(select(Task.bpmn_id).where(Task.instance_id == instance_id,
                                                                 Task.state == "ready")).all())


def timer_row(services, instance_id):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return session.scalars(select(Timer).where(Timer.instance_id == instance_id)).one()


def scheduler_pass(services):
    return run_pass(services.runtime, services.session_factory)


def setup(services, place, kind, text):
    key = f"timer_{place}"
    world = deploy_one(services, diagram(place, kind, text), key)
    clock = Clock()
    services.runtime.clock = clock
    return world, clock, start(services, world, key)


# (place, tasks open before the timer fires, after it fires once, the task the timer leads to)
PLACES = [
    ("intermediate", [], ["after"]),
    ("boundary", ["wait"], ["late"]),
    ("boundary_non_interrupting", ["wait"], ["remind", "wait"]),
    ("event_subprocess_non_interrupting", ["wait"], ["remind", "wait"]),
    ("start", [], ["after"]),
]


@pytest.mark.parametrize("place, before, after", PLACES, ids=[p[0] for p in PLACES])
def test_a_duration_written_as_the_standard_writes_it(services, place, before, after):
    world, clock, instance_id = setup(services, place, "timeDuration", "P7D")
    assert open_tasks(services, instance_id) == before
    timer = timer_row(services, instance_id)
    assert abs(timer.due_at - (clock.now + timedelta(days=7))) < timedelta(seconds=5)
    clock.now += timedelta(days=6)
    assert scheduler_pass(services).fired == []
    clock.now += timedelta(days=1, seconds=5)
    assert scheduler_pass(services).fired == [timer.id]
    assert open_tasks(services, instance_id) == after
    assert timer_row(services, instance_id).state == "fired"


@pytest.mark.parametrize("place, before, after", PLACES, ids=[p[0] for p in PLACES])
def test_a_date(services, place, before, after):
    world, clock, instance_id = setup(services, place, "timeDate", DATE)
    timer = timer_row(services, instance_id)
    assert abs(timer.due_at - (clock.now + (DATE_UTC - utcnow()))) < timedelta(seconds=5)
    clock.now += (DATE_UTC - utcnow()) - timedelta(minutes=1)
    assert scheduler_pass(services).fired == []
    clock.now += timedelta(minutes=2)
    assert scheduler_pass(services).fired == [timer.id]
    assert open_tasks(services, instance_id) == after


@pytest.mark.parametrize("place, before, after", PLACES, ids=[p[0] for p in PLACES])
def test_a_cycle_runs_its_count_and_stops(services, place, before, after):
    world, clock, instance_id = setup(services, place, "timeCycle", "R2/PT1H")
    timer = timer_row(services, instance_id)
    assert abs(timer.due_at - (clock.now + timedelta(hours=1))) < timedelta(seconds=5)
    runs = []
    for _ in range(3):
        clock.now += timedelta(hours=1, seconds=5)
        runs.append(len(scheduler_pass(services).fired))
    assert runs == [1, 1, 0]
    with unit_of_work(services.session_factory, readonly=True) as session:
        transitions = session.scalars(select(Event.transition).where(Event.task_id == timer.task_id)
                                      .order_by(Event.id)).all()
        assert transitions == ["schedule", "complete", "schedule", "complete"]
        assert session.get(Timer, timer.id).state == "fired"
    follow = [t for t in after if t not in before] or after
    # Each run sends one token down the timer's flow.
    assert sorted(t for t in open_tasks(services, instance_id) if t in follow) == sorted(follow * 2)


def test_an_unbounded_cycle_with_a_start_date(services):
    world, clock, instance_id = setup(services, "boundary_non_interrupting", "timeCycle", f"R/{DATE}/P1D")
    timer = timer_row(services, instance_id)
    assert abs(timer.due_at - (clock.now + (DATE_UTC - utcnow()))) < timedelta(seconds=5)
    clock.now = timer.due_at + timedelta(seconds=1)
    for day in range(3):
        assert len(scheduler_pass(services).fired) == 1
        following = timer_row(services, instance_id)
        assert following.state == "waiting"
        assert abs(following.due_at - (clock.now + timedelta(days=1))) < timedelta(seconds=5)
        clock.now = following.due_at + timedelta(seconds=1)
    assert open_tasks(services, instance_id) == ["remind"] * 3 + ["wait"]


def test_a_counted_cycle_with_a_start_date(sqlite_services):
    services = sqlite_services
    world, clock, instance_id = setup(services, "intermediate", "timeCycle", f"R3/{DATE}/P1D")
    for _ in range(3):
        clock.now = timer_row(services, instance_id).due_at + timedelta(seconds=1)
        assert len(scheduler_pass(services).fired) == 1
    assert timer_row(services, instance_id).state == "fired"
    assert open_tasks(services, instance_id) == ["after"] * 3


@pytest.mark.parametrize("text", ['"P7D"', '="P7D"', '="P" + str(3 + 4) + "D"', "  P7D  "])
def test_timer_text_as_an_expression(sqlite_services, text):
    services = sqlite_services
    world, clock, instance_id = setup(services, "boundary", "timeDuration", text)
    assert abs(timer_row(services, instance_id).due_at - (clock.now + timedelta(days=7))) < timedelta(seconds=5)


def findings(place, kind, text):
    return [f.message for f in validate_bundle({"t.bpmn": diagram(place, kind, text)}, {}, ROLES, set())]


def test_validation_accepts_standard_text_and_expressions_and_refuses_bad_timers():
    for kind, text in (("timeDuration", "P7D"), ("timeDuration", "PT12H"), ("timeDate", DATE),
                       ("timeCycle", "R/PT1H"), ("timeCycle", f"R3/{DATE}/P1D"), ("timeDuration", '"P7D"'),
                       ("timeDuration", "=deadline"), ("timeDuration", "deadline")):
        assert findings("boundary", kind, text) == [], (kind, text)
    assert any("'P7 days' is not valid ISO 8601" in m for m in findings("boundary", "timeDuration", '"P7 days"'))
    assert any("not valid ISO 8601" in m for m in findings("boundary", "timeCycle", "R2/P7 days"))
    assert any("not valid ISO 8601" in m for m in findings("boundary", "timeDuration", "R2/PT1H"))
    assert any("timer timeDuration" in m for m in findings("boundary", "timeDuration", "=__import__('os')"))
    assert any("empty" in m for m in findings("boundary", "timeDuration", "  "))


def test_an_interrupting_event_subprocess_is_flagged():
    messages = findings("event_subprocess", "timeDuration", "P7D")
    assert any("does not interrupt" in m for m in messages)


# The script after the timer fails for every project not titled 好 (a KeyError).
PICKY = 'checked = {"好": 1}[project["title"]]'


def start_titled(services, world, key, title):
    with unit_of_work(services.session_factory) as session:
        org = session.get(User, world.users.org.id)
        return services.runtime.start_instance(
            session, key, org, {"title": title, "organization_id": world.org.id, "catalog_item_id": world.item.id}).id


def test_a_timer_that_fails_becomes_an_incident_and_the_others_fire(services):
    """A diagram error after one instance's timer stops only that instance, visibly."""
    world = deploy_one(services, diagram("intermediate", "timeDuration", "PT1H", key="picky", script=PICKY), "picky")
    clock = Clock()
    services.runtime.clock = clock
    bad = start_titled(services, world, "picky", "坏")
    good = start_titled(services, world, "picky", "好")
    clock.now += timedelta(hours=1, seconds=5)
    result = scheduler_pass(services)
    good_timer, bad_timer = timer_row(services, good), timer_row(services, bad)
    assert result.fired == [good_timer.id] and list(result.incidents) == [bad_timer.id]
    assert bad_timer.state == "incident" and "KeyError" in bad_timer.error_message
    assert open_tasks(services, good) == ["after"] and open_tasks(services, bad) == []
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert [t.id for t in timer_incidents(session)] == [bad_timer.id]
        assert session.get(Instance, bad).status == "running"
    # No longer due: the next pass leaves it alone, until someone retries it.
    assert scheduler_pass(services) == type(result)()
    with unit_of_work(services.session_factory) as session:
        retry_timer(session, bad_timer.id, clock.now, "admin")
    assert list(scheduler_pass(services).incidents) == [bad_timer.id]
    with unit_of_work(services.session_factory) as session:
        with pytest.raises(ConflictError):
            retry_timer(session, good_timer.id, clock.now, "admin")


def test_the_scheduler_process_runs_a_short_cycle_and_survives_a_bad_instance(sqlite_url):
    """`sanshe scheduler` itself (a real process) with the standard cycle R2/PT1S, beside an
    instance whose timer fails."""
    from tests.conftest import make_services
    services = make_services(sqlite_url)
    try:
        world = deploy_one(services, diagram("intermediate", "timeCycle", "R2/PT1S"), "timer_intermediate")
        with unit_of_work(services.session_factory) as session:
            deploy(session, services.runtime.spec_cache,
                   {"picky.bpmn": diagram("intermediate", "timeDuration", "PT1S", key="picky", script=PICKY)}, {}, "admin")
        bad = start_titled(services, world, "picky", "坏")
        cycle = start(services, world, "timer_intermediate")
    finally:
        services.db.dispose()
    env = dict(os.environ, SANSHE_DATABASE_URL=sqlite_url, PYTHONPATH=str(ROOT), SANSHE_SCHEDULER_INTERVAL="0.2")
    process = subprocess.Popen([sys.executable, "-m", "cli", "scheduler"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    services = make_services(sqlite_url)
    try:
        # Starting a Python process takes seconds, more on a busy machine.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and open_tasks(services, cycle) != ["after", "after"]:
            time.sleep(0.2)
        assert open_tasks(services, cycle) == ["after", "after"]
        assert process.poll() is None
        with unit_of_work(services.session_factory, readonly=True) as session:
            assert [t.instance_id for t in timer_incidents(session)] == [bad]
    finally:
        services.db.dispose()
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert "-> incident" in output
