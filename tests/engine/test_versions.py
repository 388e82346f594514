"""What changed between two versions of a diagram, as an administrator drew it."""
from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from engine.core.versions import diff_definitions, diff_diagrams, versions_overview
from tests import diagram_edits as edits


def test_an_inserted_task_and_a_changed_threshold():
    old = edits.original()
    new = edits.set_param(edits.insert_town_task(old), "tally_votes", "pass_ratio", "2/3")
    diff = diff_diagrams(old, new, {"a.schema.json": {"type": "object"}},
                         {"a.schema.json": {"type": "object", "title": "A"}, edits.NEW_FORM: edits.NEW_FORM_SCHEMA})
    added = {(c.element_id, c.element_type) for c in diff.added}
    assert added == {(edits.NEW_TASK, "userTask"), (f"flow_{edits.NEW_TASK}_to_plan_survey", "sequenceFlow")}
    assert diff.removed == []
    changed = {c.element_id: c for c in diff.changed}
    assert set(changed) == {"tally_votes", "flow_gw_qualification_to_plan_survey", "lane_town_government"}
    [(part, before, after)] = changed["tally_votes"].parts
    assert "pass_ratio" in part and 'value="1/2"' in before and 'value="2/3"' in after
    assert changed["tally_votes"].name.startswith("计票") and changed["tally_votes"].element_type == "serviceTask"
    assert changed["flow_gw_qualification_to_plan_survey"].parts == (("@targetRef", "plan_survey", edits.NEW_TASK),)
    assert diff.forms_added == [edits.NEW_FORM] and diff.forms_changed == ["a.schema.json"]


def test_removed_elements_and_an_unchanged_diagram():
    old = edits.original()
    diff = diff_diagrams(old, edits.remove_catalog_confirmation(old))
    assert {c.element_id for c in diff.removed} == {"confirm_catalog_item", "flow_confirm_catalog_item_to_gw_screening_merge"}
    assert diff_diagrams(old, old, {"f": {"x": 1}}, {"f": {"x": 1}}).empty


def test_versions_listed_with_running_instances(sqlite_services):
    services = sqlite_services
    bpmn, forms = read_bundle([edits.PROCESSES])
    with unit_of_work(services.session_factory) as session:
        [(v1, _)] = deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
        [(v2, _)] = deploy(session, services.runtime.spec_cache,
                           {"seven_step_project.bpmn": edits.set_param(edits.original(), "tally_votes", "pass_ratio", "3/5")},
                           forms, "editor")
        overview = [(d.version, d.deployed_by, running) for d, running in versions_overview(session)]
        diff = diff_definitions(session, v1.id, v2.id)
    assert overview == [(2, "editor", 0), (1, "admin", 0)]
    assert (diff.old_version, diff.new_version) == (1, 2) and [c.element_id for c in diff.changed] == ["tally_votes"]
