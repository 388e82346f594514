"""The voting rule as the diagram sets it, counted by the real roster and tally workers on
real ballots: nine representatives, six vote, three let the deadline pass."""
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.method.driver import People, drive
from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from engine.core.models import Timer, User
from engine.method.models import Decision
from tests import diagram_edits as edits
from tests.factories import make_world
from tests.drive import real_workers

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
FILE = "seven_step_project.bpmn"
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
    people, work = People(absent=ABSENT), real_workers(services, REAL_WORKERS)
    while True:
        task = drive(services, instance_id, people, stop_before={"approve_application", "decide_failed_vote"},
                     work=work)
        assert task is not None
        if task.bpmn_id != "cast_ballot":
            return task.bpmn_id
        with unit_of_work(services.session_factory) as session:  # only the absent's ballots wait
            deadlines = session.scalars(select(Timer.id).where(
                Timer.instance_id == instance_id, Timer.bpmn_id == "ballot_deadline", Timer.state == "waiting")).all()
            assert len(deadlines) == len(ABSENT)
            for timer_id in deadlines:
                services.runtime.fire_timer(session, timer_id)


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
