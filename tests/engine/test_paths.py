"""A migration preview names what a running project meets ahead of it on the new version."""
import json

from engine.core.paths import preview
from tests import diagram_edits as edits

FORMS = {p.name: json.loads(p.read_text()) for p in (edits.PROCESSES / "forms").glob("*.json")}


def new_version():
    xml = edits.insert_town_task(edits.original())
    xml = edits.set_param(xml, "tally_votes", "pass_ratio", "3/4")
    forms = {**FORMS, edits.NEW_FORM: edits.NEW_FORM_SCHEMA}
    forms["plan_survey.schema.json"] = {**FORMS["plan_survey.schema.json"], "title": "需求调查（新）"}
    return xml, forms


def test_a_project_before_the_new_task_meets_it_the_new_ratio_and_the_changed_form():
    xml, forms = new_version()
    seen = preview(edits.original(), xml, FORMS, forms, {"approve_qualification"})
    assert [c.element_id for c in seen.of("added")] == [edits.NEW_TASK]
    [ratio] = seen.of("parameter")
    assert (ratio.element_id, ratio.name, ratio.old, ratio.new) == ("tally_votes", "pass_ratio", "1/2", "3/4")
    assert [(c.element_id, c.name) for c in seen.of("form")] == [("plan_survey", "plan_survey.schema.json")]
    assert seen.of("removed") == []


def test_a_project_past_the_new_task_meets_only_the_new_ratio():
    xml, forms = new_version()
    seen = preview(edits.original(), xml, FORMS, forms, {"cast_ballot"})
    assert [(c.kind, c.name) for c in seen.changes] == [("parameter", "pass_ratio")]


def test_a_project_past_the_vote_meets_nothing_new():
    xml, forms = new_version()
    assert preview(edits.original(), xml, FORMS, forms, {"write_case_study"}).changes == []


def test_a_removed_task_ahead_is_named():
    xml = edits.remove_catalog_confirmation(edits.original())
    seen = preview(edits.original(), xml, FORMS, FORMS, {"start"})
    assert "confirm_catalog_item" in [c.element_id for c in seen.of("removed")]
