"""Completions at the same moment on one project: those that do not conflict all go through
(steps on one instance take turns); two people completing the same task get one winner
and a clear message."""
import threading

import pytest
from sqlalchemy import select

from bench.ballots_bench import cast_all, setup
from engine.core.db import unit_of_work
from engine.core.models import Job, Task, User
from engine.errors import ConflictError


@pytest.fixture
def ballot_box(db_url):
    services, instance_id, ballots = setup(db_url, 20)
    yield services, instance_id, ballots
    services.db.dispose()


def test_twenty_ballots_at_once_are_all_accepted(ballot_box):
    services, instance_id, ballots = ballot_box
    errors, latencies = cast_all(services, ballots)
    assert errors == []
    with unit_of_work(services.session_factory, readonly=True) as session:
        states = session.scalars(select(Task.state).where(Task.instance_id == instance_id,
                                                          Task.bpmn_id == "cast_ballot")).all()
        assert states == ["completed"] * 20
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
        assert session.get(Task, task_id).data == {"ballot": winner}
