"""Completions at the same moment on one project: those that do not conflict all go through
(steps on one instance take turns); two people completing the same task get one winner
and a clear message."""
import threading

import pytest
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Job, Task, User
from engine.config import PROJECT_ROOT, load_settings
from engine.core.db import upgrade_schema
from engine.core.deployments import deploy, read_bundle
from engine.errors import ConflictError
from engine.method.driver import cast_all, drive_to_ballots, make_world, start_project
from engine.wiring import build_services

def setup(url, voters):
    """A database with the process deployed and a project waiting for ``voters`` ballots."""
    services = build_services(load_settings(database_url=url))
    upgrade_schema(services.db)
    bpmn, forms = read_bundle([PROJECT_ROOT / "processes"])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "test")
        world = make_world(session, representatives=voters)
    instance_id = start_project(services, world)
    return services, instance_id, drive_to_ballots(services, instance_id, voters)


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
