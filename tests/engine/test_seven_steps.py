"""The real seven-step diagram through the engine API, jobs answered with explicit results."""
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.core.models import Event, Instance, Task, User
from engine.method import driver
from engine.method.driver import People, default_choices, service_result, start_project
from tests.drive import real_workers
from tests.factories import deploy_world

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


def start(services, world, item):
    return start_project(services, world, title="象东居家养老", item=item)


class Watched(People):
    """The test world's people; ``on_task(task)`` hears of each task they did."""

    def __init__(self, choices, on_task=None):
        super().__init__(choices)
        self.on_task = on_task

    def done(self, task):
        if self.on_task:
            self.on_task(task)


def drive(services, instance_id, choices, vote_results=(), on_task=None, stop_before=None, work=None):
    """Run the instance to its end, or until the task ``stop_before`` waits; returns the bpmn
    ids of the human tasks done, in order. The first tallies are ``vote_results``; ``work``
    runs real workers (the others' jobs get stand-in results)."""
    votes = iter(vote_results)

    def answer(topic, variables):
        result = service_result(topic, variables)
        return next(votes, result) if topic == "vote_tally" else result
    people = Watched(choices, on_task)
    driver.drive(services, instance_id, people, stop_before={stop_before} if stop_before else (), work=work,
                 answer=answer, max_steps=10_000)  # 1,000 revision rounds take over 2,000 steps
    return people.history


def instance(services, instance_id):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return session.get(Instance, instance_id)


def count_completions(services, instance_id, activity_id):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return session.scalar(select(func.count()).where(
            Event.instance_id == instance_id, Event.activity_id == activity_id, Event.transition == "complete"))


def test_all_seven_steps_with_two_revisions_and_a_coordination_meeting(seven_steps):
    services, world = seven_steps
    instance_id = start(services, world, world.sw_item)

    def call_meeting_once(row):
        if row.bpmn_id == "report_progress" and not called:
            with unit_of_work(services.session_factory) as session:
                committee = session.get(User, world.users.committee.id)
                assert "coordination_requested" in services.runtime.waiting_messages(session, instance_id)
                services.runtime.send_message(session, instance_id, "coordination_requested",
                                              {"issue": "噪音纠纷"}, committee)
            called.append(True)
    called = []
    done = drive(services, instance_id, default_choices(rounds=2), on_task=call_meeting_once)
    finished = instance(services, instance_id)
    assert finished.status == "completed" and "Accepted" in finished.outcome
    assert done.count("revise_application") == 2 and done.count("consultation_meeting") == 3
    assert "coordination_meeting" in done
    for social_work_only in ("supervise_before", "supervise_during", "supervise_after", "write_case_study"):
        assert social_work_only in done
    with unit_of_work(services.session_factory, readonly=True) as session:
        steps = set(session.scalars(select(Event.step).where(Event.instance_id == instance_id, Event.step.is_not(None))))
        # The request is logged as the catch event it completed, with its name in the diagram.
        request = session.execute(select(Event.activity_id, Event.activity_name, Event.resource, Event.task_id).where(
            Event.instance_id == instance_id, Event.activity_type == "event", Event.transition == "complete",
            Event.activity_name.contains("申请协调"))).all()
    assert steps == {1, 2, 3, 4, 5, 6, 7}
    assert [(r.activity_id, r.resource) for r in request] == [("wait_coordination", world.users.committee.username)]
    assert request[0].task_id is not None


def test_a_rejected_vote_ends_the_project(seven_steps):
    services, world = seven_steps
    instance_id = start(services, world, world.item)
    choices = default_choices()
    choices["failed_vote_decision"] = "reject"
    failed = {"valid": True, "passed": False, "present": 3, "members": 3, "yes": 1, "no": 2, "abstain": 0}
    done = drive(services, instance_id, choices, vote_results=[failed])
    finished = instance(services, instance_id)
    assert finished.status == "completed" and "Rejected" in finished.outcome
    assert "decide_failed_vote" in done and "purchase_decision" not in done
    assert "supervise_before" not in done  # not a social-work project


def test_a_failed_vote_redone_then_passed(seven_steps):
    services, world = seven_steps
    instance_id = start(services, world, world.item)
    failed = {"valid": False, "passed": False, "present": 1, "members": 3, "yes": 1, "no": 0, "abstain": 0}
    drive(services, instance_id, default_choices(), vote_results=[failed])
    assert count_completions(services, instance_id, "tally_votes") == 2
    assert "Accepted" in instance(services, instance_id).outcome


def stored_bytes(services, instance_id):
    """What the database holds of the instance's engine state (its row and state parts)."""
    from engine.core.models import StatePart
    with unit_of_work(services.session_factory, readonly=True) as session:
        state = session.get(Instance, instance_id).state
        parts = session.scalars(select(StatePart.body).where(StatePart.instance_id == instance_id)).all()
        return len(state.encode()) + sum(len(p.encode()) for p in parts)


@pytest.mark.slow
def test_1000_revision_rounds_then_the_project_runs_to_payment(services):
    """The revise loop is unlimited: 1,000 rounds, then the project runs to its end and is
    paid; the stored state does not grow with the rounds."""
    world = deploy_world(services, PROCESSES)
    instance_id = start(services, world, world.item)
    sizes = {}

    revised = []

    def measure(row):
        if row.bpmn_id == "revise_application":
            revised.append(row.id)
            if len(revised) <= 48 or len(revised) > 1000 - 48:
                sizes[len(revised)] = stored_bytes(services, instance_id)
    drive(services, instance_id, default_choices(rounds=1000), on_task=measure)
    assert count_completions(services, instance_id, "revise_application") == 1000
    assert count_completions(services, instance_id, "pay_final_installment") == 1
    assert "Accepted" in instance(services, instance_id).outcome
    # The tree is cut back in batches, so the size swings (a saw tooth); it does not grow.
    early, late = [sizes[r] for r in range(1, 49)], [sizes[r] for r in range(953, 1001)]
    assert max(late) <= 1.05 * max(early) and min(late) <= 1.05 * min(early[24:]), sizes


def test_terminating_a_project_releases_its_earmarked_funds(seven_steps):
    from engine.method import funds

    services, world = seven_steps
    with unit_of_work(services.session_factory) as session:
        funds.set_budget(session, world.town.id, services.runtime.clock().year, 100_000)
    instance_id = start(services, world, world.item)

    # Drive until the agreement waits for the purchaser's signature: the earmark worker has
    # reserved the funds by then.
    drive(services, instance_id, default_choices(), stop_before="sign_purchaser",
          work=real_workers(services, ["funds_earmark"]))
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert funds.held_for(session, instance_id)
    with unit_of_work(services.session_factory) as session:
        services.runtime.terminate_instance(session, instance_id, session.get(User, world.users.town.id), "机构撤回")
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert not funds.held_for(session, instance_id)
        assert session.get(Instance, instance_id).status == "terminated"
        assert session.scalars(select(Task.state).where(Task.instance_id == instance_id, Task.bpmn_id == "sign_purchaser")).all() == ["cancelled"]
