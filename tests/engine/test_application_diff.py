"""What changed in the application between two versions: field by field, row by row."""
import json
from pathlib import Path

from engine.method.applications import diff, prefill

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "processes" / "forms" /
                     "revise_application.schema.json").read_text(encoding="utf-8"))
BEFORE = {
    "application_title": "银龄互助", "application_goals": "每周探访独居老人",
    "application_budget": [{"item": "场地", "amount": 1000}, {"item": "交通", "amount": 500},
                           {"item": "宣传", "amount": 300}],
    "application_budget_total": 1800,
    "application_phases": [{"phase": "准备", "start": "2026-03-01", "end": "2026-03-31", "activities": "招募"}],
}


def test_one_changed_budget_line_is_one_changed_row_and_the_rest_stay_quiet():
    after = dict(BEFORE, application_budget=[{"item": "场地", "amount": 1500}, {"item": "交通", "amount": 500},
                                             {"item": "宣传", "amount": 300}], application_budget_total=2300)
    changes = diff(BEFORE, after, SCHEMA)
    assert [(c.name, c.kind) for c in changes] == [("application_budget", "changed"),
                                                    ("application_budget_total", "changed")]
    budget, total = changes
    assert [(r.kind, r.key, [(col, old, new) for col, _, old, new in r.cells]) for r in budget.rows] == [
        ("changed", "场地", [("amount", 1000, 1500)])]
    assert (total.before, total.after) == (1800, 2300)


def test_rows_added_and_removed_are_named_by_their_first_text_cell():
    after = dict(BEFORE, application_budget=[{"item": "场地", "amount": 1000}, {"item": "保险", "amount": 200},
                                             {"item": "宣传", "amount": 300}])
    rows = diff(BEFORE, after, SCHEMA)[0].rows
    assert [(r.kind, r.key) for r in rows] == [("added", "保险"), ("removed", "交通")]
    assert rows[0].row == {"item": "保险", "amount": 200}


def test_text_fields_added_changed_and_unchanged():
    after = dict(BEFORE, application_goals="每周探访两次", application_expected_effect="老人孤独感下降")
    changes = {c.name: c for c in diff(BEFORE, after, SCHEMA)}
    assert set(changes) == {"application_goals", "application_expected_effect"}
    assert (changes["application_goals"].kind, changes["application_goals"].before,
            changes["application_goals"].after) == ("changed", "每周探访独居老人", "每周探访两次")
    assert changes["application_expected_effect"].kind == "added"
    assert diff(BEFORE, dict(BEFORE), SCHEMA) == []


def test_a_phase_renamed_reads_as_one_removed_and_one_added():
    after = dict(BEFORE, application_phases=[dict(BEFORE["application_phases"][0], phase="筹备")])
    rows = diff(BEFORE, after, SCHEMA)[0].rows
    assert [(r.kind, r.key) for r in rows] == [("added", "筹备"), ("removed", "准备")]


def test_the_revision_form_opens_with_the_current_version_but_not_its_files():
    current = dict(BEFORE, application_document={"attachment_id": 7, "filename": "申请书.pdf"})
    data = prefill(SCHEMA, current, lambda prop: prop.get("x-widget") == "file")
    assert data["application_budget"] == BEFORE["application_budget"] and data["application_title"] == "银龄互助"
    assert "application_document" not in data and "revision_response" not in data
