"""The real seven-step diagram through the engine API, jobs answered with explicit results."""
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.method.driver import default_choices, fill, service_result
from engine.core.db import unit_of_work
from engine.core.models import Event, Instance, Job, Task, User
from tests.factories import deploy_world

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
USERS_BY_ROLE = {"social_organization": "orgstaff", "community_committee": "committee",
                 "town_government": "town", "supervisor": "supervisor"}


@pytest.fixture
def env(services):
    return services, deploy_world(services, PROCESSES)


def start(services, world, item):
    with unit_of_work(services.session_factory) as session:
        org = session.get(User, world.users.org.id)
        return services.runtime.start_instance(session, "seven_step_project", org, {
            "title": "象东居家养老", "organization_id": world.org.id, "catalog_item_id": item.id}).id


def drive(services, instance_id, choices, vote_results=(), on_task=None, job_result=None, stop_before=None):
    """Run the instance to its end, or until the task ``stop_before`` waits; returns the bpmn
    ids of the human tasks done, in order. ``job_result(session, job, result)`` may replace a
    job's default result."""
    votes = iter(vote_results)
    done = []
    while True:
        with unit_of_work(services.session_factory) as session:
            job = session.scalars(select(Job).where(Job.instance_id == instance_id, Job.state == "ready")).first()
            if job is not None:
                result = service_result(job.topic, job.variables)
                if job.topic == "vote_tally":
                    result = next(votes, result)
                if job_result is not None:
                    result = job_result(session, job, result)
                services.runtime.complete_job(session, job, result, "test-worker")
                continue
            row = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
                                  .order_by(Task.created_at, Task.id)).first()
            if row is None or row.bpmn_id == stop_before:
                return done
            user = session.scalar(select(User).where(User.username == (row.assignee or USERS_BY_ROLE[row.role])))
            form = services.runtime.task_form(session, row.id, user)
            services.runtime.complete_task(session, row.id, user, fill(form, choices))
            done.append(row.bpmn_id)
        if on_task:
            on_task(row)


def instance(services, instance_id):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return session.get(Instance, instance_id)


def count_completions(services, instance_id, activity_id):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return session.scalar(select(func.count()).where(
            Event.instance_id == instance_id, Event.activity_id == activity_id, Event.transition == "complete"))


def test_all_seven_steps_with_two_revisions_and_a_coordination_meeting(env):
    services, world = env
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
    assert steps == {1, 2, 3, 4, 5, 6, 7}


def test_a_rejected_vote_ends_the_project(env):
    services, world = env
    instance_id = start(services, world, world.item)
    choices = default_choices()
    choices["failed_vote_decision"] = "reject"
    failed = {"valid": True, "passed": False, "present": 3, "members": 3, "yes": 1, "no": 2, "abstain": 0}
    done = drive(services, instance_id, choices, vote_results=[failed])
    finished = instance(services, instance_id)
    assert finished.status == "completed" and "Rejected" in finished.outcome
    assert "decide_failed_vote" in done and "purchase_decision" not in done
    assert "supervise_before" not in done  # not a social-work project


def test_a_failed_vote_redone_then_passed(env):
    services, world = env
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


def test_terminating_a_project_releases_its_earmarked_funds(env):
    from engine.method import funds

    services, world = env
    with unit_of_work(services.session_factory) as session:
        funds.set_budget(session, world.town.id, services.runtime.clock().year, 100_000)
    instance_id = start(services, world, world.item)

    def earmark_for_real(session, job, result):
        if job.topic != "funds_earmark":
            return result
        now = services.runtime.clock()
        return funds.earmark(session, job.id, instance_id, world.town.id, now.year, 4_000_000, now)

    # Drive until the agreement waits for the purchaser's signature: funds are earmarked by then.
    drive(services, instance_id, default_choices(), job_result=earmark_for_real, stop_before="sign_purchaser")
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert funds.held_for(session, instance_id)
    with unit_of_work(services.session_factory) as session:
        services.runtime.terminate_instance(session, instance_id, session.get(User, world.users.town.id), "机构撤回")
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert not funds.held_for(session, instance_id)
        assert session.get(Instance, instance_id).status == "terminated"
        assert session.scalars(select(Task.state).where(Task.instance_id == instance_id, Task.bpmn_id == "sign_purchaser")).all() == ["cancelled"]
