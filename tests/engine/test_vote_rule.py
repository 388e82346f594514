"""The voting rule as the diagram sets it, counted by the real roster and tally workers on
real ballots: nine representatives, six vote, three let the deadline pass."""
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.method.driver import default_choices, fill, service_result
from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from engine.core.jobs import JobQueue
from engine.core.models import Job, Task, Timer, User
from engine.method.models import Decision
from tests import diagram_edits as edits
from tests.factories import make_world
from workers.registry import TOPICS
from workers.worker import Worker

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
FILE = "seven_step_project.bpmn"
USERS_BY_ROLE = {"social_organization": "orgstaff", "community_committee": "committee", "town_government": "town"}
REAL_WORKERS = ("vote_roster", "vote_tally")
ABSENT = {"rep6", "rep7", "rep8"}


def law(xml):
    return xml


def older_diagram_without_comparisons(xml):
    xml = edits.remove_param(xml, "tally_votes", "quorum_comparison")
    return edits.remove_param(xml, "tally_votes", "pass_comparison")


def bylaws_more_than_two_thirds_present(xml):
    return edits.set_param(xml, "tally_votes", "quorum_comparison", '"more_than"')


def start_on(services, diagram):
    bpmn, forms = read_bundle([PROCESSES])
    bpmn[FILE] = diagram(bpmn[FILE])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
        world = make_world(session, representatives=9)
        org = session.get(User, world.users.org.id)
        return services.runtime.start_instance(session, "seven_step_project", org, {
            "title": "象东居家养老", "organization_id": world.org.id, "catalog_item_id": world.item.id}).id


def drive_through_the_vote(services, instance_id):
    """Work the instance until the town approves or the committee decides after a failed vote;
    rep6..rep8 never vote (their ballot deadlines pass). Returns the open task's bpmn id."""
    queue = JobQueue(services.settings, services.runtime)
    while True:
        with unit_of_work(services.session_factory) as session:
            job = session.scalars(select(Job).where(Job.instance_id == instance_id, Job.state == "ready")).first()
            if job is not None and job.topic not in REAL_WORKERS:
                services.runtime.complete_job(session, job, service_result(job.topic, job.variables), "worker")
                continue
            if job is not None:
                [locked] = [j for j in queue.fetch_and_lock(session, [job.topic], "worker-1", 50) if j.id == job.id]
        if job is not None:
            assert Worker(services.session_factory, queue, TOPICS, "worker-1").process(locked) == "completed"
            continue
        with unit_of_work(services.session_factory) as session:
            ready = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
                                    .order_by(Task.created_at, Task.id)).all()
            for row in ready:
                if row.bpmn_id in ("approve_application", "decide_failed_vote"):
                    return row.bpmn_id
            present = [row for row in ready if row.assignee not in ABSENT]
            if not present:
                deadlines = session.scalars(select(Timer.id).where(
                    Timer.instance_id == instance_id, Timer.bpmn_id == "ballot_deadline", Timer.state == "waiting")).all()
                assert len(deadlines) == len(ABSENT)
                for timer_id in deadlines:
                    services.runtime.fire_timer(session, timer_id)
                continue
            row = present[0]
            user = session.scalar(select(User).where(User.username == (row.assignee or USERS_BY_ROLE[row.role])))
            services.runtime.complete_task(session, row.id, user,
                                           fill(services.runtime.task_form(session, row.id, user), default_choices()))


@pytest.mark.parametrize(("diagram", "valid", "next_task", "said"), [
    (law, True, "approve_application", "到会人数不少于三分之二，会议有效"),
    (older_diagram_without_comparisons, True, "approve_application", "到会人数不少于三分之二，会议有效"),
    (bylaws_more_than_two_thirds_present, False, "decide_failed_vote", "到会人数未超过三分之二，会议无效"),
])
def test_six_of_nine_present_under_the_rule_the_diagram_sets(services, diagram, valid, next_task, said):
    instance_id = start_on(services, diagram)
    assert drive_through_the_vote(services, instance_id) == next_task
    with unit_of_work(services.session_factory, readonly=True) as session:
        decision = session.scalars(select(Decision).where(Decision.instance_id == instance_id,
                                                          Decision.kind == "vote")).one()
    result = decision.details
    assert (result["members"], result["present"], result["yes"], result["valid"]) == (9, 6, 6, valid)
    assert said in result["announcement"]["zh"]
    assert result["announcement"]["zh"].startswith("“象东居家养老”第1轮表决：应到9人，实到6人")
