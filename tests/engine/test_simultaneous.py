"""Completions at the same moment on one project: those that do not conflict all go through
(steps on one instance take turns); two people completing the same task get one winner
and a clear message."""
import threading
import time

import pytest
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Job, Task, User
from engine.config import PROJECT_ROOT, load_settings
from engine.core.db import upgrade_schema
from engine.core.deployments import deploy, read_bundle
from engine.errors import ConflictError
from engine.method.driver import default_choices, fill, make_world, service_result
from engine.wiring import build_services

KEY = "seven_step_project"
USERS_BY_ROLE = {"social_organization": "orgstaff", "community_committee": "committee",
                 "town_government": "town", "supervisor": "supervisor"}


def setup(url, voters):
    """A database with the process deployed and a project waiting for ``voters`` ballots:
    ``(services, instance id, [(task id, username)])``."""
    services = build_services(load_settings(database_url=url))
    upgrade_schema(services.db)
    bpmn, forms = read_bundle([PROJECT_ROOT / "processes"])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "bench")
        world = make_world(session, representatives=voters)
        org = session.get(User, world.users.org.id)
        assert org is not None
        instance_id = services.runtime.start_instance(session, KEY, org, {
            "title": "居家养老服务", "organization_id": world.org.id, "catalog_item_id": world.item.id}).id
    names = [f"rep{i}" for i in range(voters)]
    choices = default_choices()
    while True:
        with unit_of_work(services.session_factory) as session:
            job = session.scalars(select(Job).where(Job.instance_id == instance_id, Job.state == "ready")).first()
            if job is not None:
                result = service_result(job.topic, {**job.variables, "bench_voters": names})
                services.runtime.complete_job(session, job, result, "bench")
                continue
            rows = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
                                   .order_by(Task.created_at, Task.id)).all()
            ballots = [(r.id, r.assignee) for r in rows if r.bpmn_id == "cast_ballot"]
            if ballots:
                return services, instance_id, ballots
            row = rows[0]
            user = session.scalar(select(User).where(User.username == (row.assignee or USERS_BY_ROLE[row.role])))
            assert user is not None
            services.runtime.complete_task(session, row.id, user, fill(services.runtime.task_form(session, row.id, user),
                                                                       choices))


def cast_all(services, ballots):
    """Submit every ballot at once; returns ``(errors, [seconds])``."""
    barrier = threading.Barrier(len(ballots))
    errors, latencies, lock = [], [], threading.Lock()
    with unit_of_work(services.session_factory, readonly=True) as session:
        users = {u.username: u for u in session.scalars(select(User))}

    def vote(task_id, username):
        barrier.wait()
        started = time.perf_counter()
        try:
            with unit_of_work(services.session_factory) as session:
                services.runtime.complete_task(session, task_id, users[username], {"ballot": "yes"})
        except Exception as exc:  # counted and shown: any refusal is what this measures
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        with lock:
            latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=vote, args=ballot) for ballot in ballots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors, latencies


@pytest.fixture
def ballot_box(db_url):
    # Ten at once: one connection each, within the pool and a shared server's connection limit.
    services, instance_id, ballots = setup(db_url, 10)
    yield services, instance_id, ballots
    services.db.dispose()


def test_ten_ballots_at_once_are_all_accepted(ballot_box):
    services, instance_id, ballots = ballot_box
    errors, latencies = cast_all(services, ballots)
    assert errors == []
    with unit_of_work(services.session_factory, readonly=True) as session:
        states = session.scalars(select(Task.state).where(Task.instance_id == instance_id,
                                                          Task.bpmn_id == "cast_ballot")).all()
        assert states == ["completed"] * 10
        # Every ballot was counted: the tally waits for the workers.
        assert session.scalar(select(Job.state).where(Job.instance_id == instance_id, Job.topic == "vote_tally")) == "ready"


def test_the_same_task_completed_twice_at_once_has_one_winner(ballot_box):
    services, instance_id, ballots = ballot_box
    task_id, username = ballots[0]
    with unit_of_work(services.session_factory, readonly=True) as session:
        user = session.scalar(select(User).where(User.username == username))
    barrier = threading.Barrier(2)
    outcomes = []

    def submit(ballot):
        barrier.wait()
        try:
            with unit_of_work(services.session_factory) as session:
                services.runtime.complete_task(session, task_id, user, {"ballot": ballot})
            outcomes.append(("ok", ballot))
        except ConflictError as exc:
            outcomes.append(("refused", str(exc)))

    threads = [threading.Thread(target=submit, args=(ballot,)) for ballot in ("yes", "no")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
    (message,) = [text for kind, text in outcomes if kind == "refused"]
    assert message in ("This task is no longer waiting.", "This task is already completed.")
    (winner,) = [ballot for kind, ballot in outcomes if kind == "ok"]
    with unit_of_work(services.session_factory, readonly=True) as session:
        won = session.get(Task, task_id)
        assert won is not None and won.data == {"ballot": winner}
