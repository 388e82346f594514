"""The runtime on a real database: tasks, forms, loops, restart, races, timers."""
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.errors import ConflictError, NotFoundError, ValidationError
from engine.core.hotcache import after_commit, savepoint
from engine.core.models import Event, Instance, Job, Task, Timer, User
from tests.conftest import restarted
from tests.factories import deploy_world

DATA = Path(__file__).resolve().parent.parent / "data" / "engine"


def start(services, world, key="mini_project"):
    with unit_of_work(services.session_factory) as session:
        org = session.get(User, world.users.org.id)
        return services.runtime.start_instance(
            session, key, org, {"title": "居家养老", "organization_id": world.org.id, "catalog_item_id": world.item.id}).id


def open_task(services, instance_id, bpmn_id=None):
    with unit_of_work(services.session_factory, readonly=True) as session:
        query = select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
        if bpmn_id:
            query = query.where(Task.bpmn_id == bpmn_id)
        return session.scalars(query.order_by(Task.created_at, Task.id)).first()


def complete(services, user_id, task_id, data):
    with unit_of_work(services.session_factory) as session:
        return services.runtime.complete_task(session, task_id, session.get(User, user_id), data).bpmn_id


def drive_rounds(services, world, instance_id, rounds):
    users = world.users
    complete(services, users.org.id, open_task(services, instance_id, "write").id, {"summary": "第一稿"})
    for n in range(rounds):
        complete(services, users.committee.id, open_task(services, instance_id, "consult").id, {"outcome": "revise"})
        complete(services, users.org.id, open_task(services, instance_id, "revise").id, {"summary": f"第{n + 2}稿"})
    complete(services, users.committee.id, open_task(services, instance_id, "consult").id, {"outcome": "mature"})


def test_task_lands_in_the_right_lane_scope_and_step(env):
    services, world = env
    instance_id = start(services, world)
    task = open_task(services, instance_id)
    assert (task.bpmn_id, task.role, task.step) == ("write", "social_organization", 2)
    assert (task.scope_type, task.scope_id) == ("organization", world.org.id)
    assert task.due_at is not None and task.due_at - task.created_at == timedelta(days=7)


def test_revision_rounds_then_job_then_end(env):
    services, world = env
    instance_id = start(services, world)
    drive_rounds(services, world, instance_id, 2)
    with unit_of_work(services.session_factory) as session:
        job = session.scalars(select(Job).where(Job.instance_id == instance_id)).one()
        assert (job.topic, job.state, job.step) == ("eligibility_check", "ready", 4)
        assert job.variables["params_source"] == {"pass_ratio": "1/2"}
        assert job.variables["project"]["organization_id"] == world.org.id
        services.runtime.complete_job(session, job, {"ok": True}, "worker-1")
    with unit_of_work(services.session_factory, readonly=True) as session:
        instance = session.get(Instance, instance_id)
        assert (instance.status, instance.outcome) == ("completed", "Done")
        completions = session.scalar(select(func.count()).where(
            Event.instance_id == instance_id, Event.activity_id == "revise", Event.transition == "complete"))
        assert completions == 2
        transitions = [e.transition for e in session.scalars(
            select(Event).where(Event.instance_id == instance_id, Event.activity_id == "instance"))]
        assert transitions == ["start", "complete"]


def test_wrong_form_data_is_refused_and_changes_nothing(env):
    services, world = env
    instance_id = start(services, world)
    task = open_task(services, instance_id)
    with unit_of_work(services.session_factory, readonly=True) as session:
        before = (session.get(Instance, instance_id).lock_version, session.scalar(select(func.count(Event.id))))
    with pytest.raises(ValidationError) as refused:
        complete(services, world.users.org.id, task.id, {"summary": "x", "budget": -5, "colour": "red"})
    assert set(refused.value.errors) == {"summary", "budget", "colour"}
    with pytest.raises(ValidationError) as missing:
        complete(services, world.users.org.id, task.id, {})
    assert missing.value.errors == {"summary": ["This field is required."]}
    with unit_of_work(services.session_factory, readonly=True) as session:
        after = (session.get(Instance, instance_id).lock_version, session.scalar(select(func.count(Event.id))))
        assert session.get(Task, task.id).state == "ready"
    assert before == after


def test_task_outside_ones_scope_is_not_found(env):
    services, world = env
    instance_id = start(services, world)
    task = open_task(services, instance_id)
    for outsider in (world.users.other_org, world.users.committee):
        with pytest.raises(NotFoundError):
            complete(services, outsider.id, task.id, {"summary": "我不该做"})
    assert open_task(services, instance_id).id == task.id


def test_completing_twice_is_refused(env):
    services, world = env
    instance_id = start(services, world)
    task = open_task(services, instance_id)
    complete(services, world.users.org.id, task.id, {"summary": "第一稿"})
    with pytest.raises(ConflictError):
        complete(services, world.users.org.id, task.id, {"summary": "第一稿"})


def test_a_new_engine_on_the_same_database_continues(env, db_url):
    services, world = env
    instance_id = start(services, world)
    complete(services, world.users.org.id, open_task(services, instance_id).id, {"summary": "第一稿"})
    with restarted(db_url) as fresh:
        drive_after = open_task(fresh, instance_id)
        assert drive_after.bpmn_id == "consult"
        complete(fresh, world.users.committee.id, drive_after.id, {"outcome": "mature"})
        with unit_of_work(fresh.session_factory, readonly=True) as session:
            assert session.scalars(select(Job.topic).where(Job.instance_id == instance_id)).all() == ["eligibility_check"]


def test_400_revision_rounds_pass_the_library_depth_limit(sqlite_services):
    services = sqlite_services
    world = deploy_world(services, DATA)
    instance_id = start(services, world)
    drive_rounds(services, world, instance_id, 400)  # ~1,200 levels deep
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert session.scalars(select(Job.topic).where(Job.instance_id == instance_id)).all() == ["eligibility_check"]


def test_racing_completions_of_one_task_one_wins(env):
    services, world = env
    instance_id = start(services, world, "parallel_votes")
    with unit_of_work(services.session_factory, readonly=True) as session:
        task = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.assignee == "rep0")).one()
        rep0 = session.scalar(select(User.id).where(User.username == "rep0"))
    outcomes = race([lambda: complete(services, rep0, task.id, {"ballot": "yes"})] * 2)
    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "str"]
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert session.scalar(select(func.count()).where(Event.task_id == task.id, Event.transition == "complete")) == 1


def test_racing_votes_on_one_instance_lose_nothing(env):
    services, world = env
    instance_id = start(services, world, "parallel_votes")
    with unit_of_work(services.session_factory, readonly=True) as session:
        rows = session.scalars(select(Task).where(Task.instance_id == instance_id)).all()
        voters = {u.username: u.id for u in session.scalars(select(User))}
    assert sorted(t.assignee for t in rows) == [f"rep{i}" for i in range(5)]

    def vote(row):
        def attempt():
            for _ in range(20):
                try:
                    return complete(services, voters[row.assignee], row.id, {"ballot": "yes"})
                except ConflictError:
                    continue
            raise AssertionError("never got through")
        return attempt
    race([vote(row) for row in rows])
    with unit_of_work(services.session_factory, readonly=True) as session:
        instance = session.get(Instance, instance_id)
        assert (instance.status, instance.outcome) == ("completed", "Votes cast")
        data = services.runtime.instance_variables(session, instance_id, hide_secret=False)
    assert data["ballots"] == ["yes"] * 5
    # The deadline waited from the start and was cancelled once the votes were in.
    assert timer_transitions(services, instance_id) == ["schedule", "cancel"]


def timer_transitions(services, instance_id):
    with unit_of_work(services.session_factory, readonly=True) as session:
        timer_task = session.scalar(select(Timer.task_id).where(Timer.instance_id == instance_id))
        return session.scalars(select(Event.transition).where(Event.task_id == timer_task)
                               .order_by(Event.ts, Event.id)).all()


def test_deadline_timer_fires_from_the_scheduler(env):
    services, world = env
    clock = Clock()
    services.runtime.clock = clock
    instance_id = start(services, world, "parallel_votes")
    with unit_of_work(services.session_factory, readonly=True) as session:
        timer = session.scalars(select(Timer).where(Timer.instance_id == instance_id)).one()
        assert abs(timer.due_at - clock.now - timedelta(days=7)) < timedelta(seconds=1)
    with unit_of_work(services.session_factory) as session:
        assert services.runtime.fire_due_timers(session) == 0
    clock.now += timedelta(days=7, seconds=1)
    with unit_of_work(services.session_factory) as session:
        assert services.runtime.fire_due_timers(session) == 1
    with unit_of_work(services.session_factory, readonly=True) as session:
        instance = session.get(Instance, instance_id)
        assert (instance.status, instance.outcome) == ("completed", "Deadline passed")
        states = session.scalars(select(Task.state).where(Task.instance_id == instance_id)).all()
        assert states == ["cancelled"] * 5
    assert timer_transitions(services, instance_id) == ["schedule", "complete"]


class Clock:
    def __init__(self):
        from engine.core.models import utcnow
        self.now = utcnow()

    def __call__(self):
        return self.now


def race(callables):
    barrier = threading.Barrier(len(callables))
    outcomes = [None] * len(callables)

    def run(i, fn):
        barrier.wait()
        try:
            outcomes[i] = fn()
        except Exception as exc:  # collected and asserted by the caller
            outcomes[i] = exc
    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(callables)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_savepoint_that_fails_drops_only_its_own_after_commit_work(env):
    services, _world = env
    ran = []
    with unit_of_work(services.session_factory) as session:
        after_commit(session, lambda: ran.append("before"))
        with pytest.raises(ValueError):
            with savepoint(session):
                after_commit(session, lambda: ran.append("inside"))
                raise ValueError("refused")
        after_commit(session, lambda: ran.append("after"))
    assert ran == ["before", "after"]


def test_after_commit_work_waits_for_the_unit_of_work_not_a_savepoint(env):
    services, _world = env
    ran = []
    with pytest.raises(RuntimeError):
        with unit_of_work(services.session_factory) as session:
            with savepoint(session):
                after_commit(session, lambda: ran.append("inside"))
            assert ran == []  # the savepoint was released, nothing is committed yet
            raise RuntimeError("the unit of work fails after the savepoint")
    assert ran == []
