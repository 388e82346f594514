"""Conformance replay on hand-made diagrams and deviating cases, and on the real diagram."""
from pathlib import Path

import pytest

from engine.core.db import unit_of_work
from engine.mining.conformance import REPEATED, SKIPPED, UNEXPECTED, conformance, footprint, replay
from engine.mining.logview import log_view
from tests.engine.mining_log import NOW, mining_db  # noqa: F401 (fixture)

DIAGRAM = Path(__file__).resolve().parents[2] / "processes" / "seven_step_project.bpmn"


def diagram(body: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
            f'<bpmn:process id="p" isExecutable="true">{body}</bpmn:process></bpmn:definitions>')


def flows(*pairs: str) -> str:
    return "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                   for i, pair in enumerate(pairs) for a, b in [pair.split(">")])


# start -> write -> meeting -> (revise -> meeting)* -> tally -> end
MEETINGS = diagram(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="write_application"/><bpmn:userTask id="consultation_meeting"/>'
    '<bpmn:exclusiveGateway id="mature"/><bpmn:userTask id="revise_application"/>'
    '<bpmn:serviceTask id="tally_votes"/><bpmn:endEvent id="e"/>'
    + flows("s>write_application", "write_application>consultation_meeting", "consultation_meeting>mature",
            "mature>revise_application", "revise_application>consultation_meeting", "mature>tally_votes",
            "tally_votes>e"))


@pytest.fixture(scope="module")
def model():
    return footprint(MEETINGS)


def test_a_case_as_drawn_fits_perfectly(model):
    result = replay(model, ["write_application", "consultation_meeting", "revise_application",
                            "consultation_meeting", "tally_votes"])
    assert result.deviations == [] and result.fitness == 1.0


def test_a_skipped_meeting_is_named(model):
    result = replay(model, ["write_application", "revise_application", "consultation_meeting", "tally_votes"])
    assert result.deviations == [(SKIPPED, "consultation_meeting", "write_application")]
    assert result.fitness == pytest.approx(5 / 6)


def test_a_task_done_twice_where_the_diagram_does_not_loop_is_repeated(model):
    result = replay(model, ["write_application", "write_application", "consultation_meeting", "tally_votes"])
    assert result.deviations == [(REPEATED, "write_application", "write_application")]
    assert result.fitness == pytest.approx(4 / 5)


def test_a_step_the_diagram_does_not_have_is_unexpected_and_the_replay_goes_on(model):
    result = replay(model, ["write_application", "ask_the_mayor", "consultation_meeting", "tally_votes"])
    assert result.deviations == [(UNEXPECTED, "ask_the_mayor", "write_application")]
    assert result.fitness == pytest.approx(4 / 5)


def test_going_back_against_the_flow_is_unexpected(model):
    result = replay(model, ["write_application", "consultation_meeting", "tally_votes", "write_application"])
    assert result.deviations == [(UNEXPECTED, "write_application", "tally_votes")]


def test_stopping_early_skips_the_rest(model):
    result = replay(model, ["write_application"])
    assert result.deviations == [(SKIPPED, "consultation_meeting", "write_application"),
                                 (SKIPPED, "tally_votes", "write_application")]


def test_the_real_diagram_allows_ballots_in_any_number_and_meetings_during_delivery():
    model = footprint(DIAGRAM.read_text(encoding="utf-8"))
    assert model.allows("cast_ballot", "cast_ballot") and model.allows("cast_ballot", "tally_votes")
    assert model.allows("report_progress", "coordination_meeting")
    assert model.allows("coordination_meeting", "report_progress")
    assert model.allows("coordination_meeting", "self_evaluation")
    assert not model.allows("confirm_catalog_item", "sign_purchaser")
    assert model.allows("sign_purchaser", "sign_contractor") or model.allows("sign_contractor", "sign_purchaser")


def test_fitness_per_case_and_version_on_the_log(mining_db, model):
    models = {("seven_step_project", 1): model, ("seven_step_project", 2): model}
    with unit_of_work(mining_db, readonly=True) as session, log_view(session, now=NOW) as view:
        result = conformance(view, models)
    # Case 2 (version 2) tallied twice where this diagram has one tally; case 1 ran as drawn.
    by_case = {c["instance_id"]: c for c in result["cases"]}
    assert by_case[1]["fitness"] == 1.0 and by_case[2]["fitness"] == pytest.approx(4 / 5)
    assert by_case[2]["deviations"] == [(REPEATED, "tally_votes", "tally_votes")]
    assert [(v["version"], v["cases"], v["fitness"]) for v in result["versions"]] == [(1, 1, 1.0), (2, 1, 0.8)]
    assert result["deviations"] == [{"kind": REPEATED, "activity_id": "tally_votes", "cases": 1}]
