"""A diagram bundle is refused with every problem named by file, element and line."""
import json
import re
from pathlib import Path

import pytest

from engine.errors import ValidationError
from engine.core.models import ROLES
from engine.core.validation import Finding, validate_bundle, validate_or_raise

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "validation"
ROLE_KEYS = [r for r in ROLES if r != "administrator"]
FORMS = {"propose.schema.json": (DATA / "forms" / "propose.schema.json").read_text()}


def validate(filename, forms=FORMS, topics=("count_votes",)):
    return validate_bundle({filename: (DATA / filename).read_bytes()}, forms, ROLE_KEYS, set(topics))


def line_of(filename, needle):
    lines = (DATA / filename).read_text().splitlines()
    return next(number for number, text in enumerate(lines, 1) if needle in text)


def test_the_minimal_diagram_is_valid():
    assert validate("valid.bpmn") == []


def test_a_timer_written_as_the_standard_writes_it_is_valid():
    # <bpmn:timeDuration>P7D</bpmn:timeDuration>, unquoted, as every modeler writes it.
    assert validate("bare_timer.bpmn") == []


def pools_diagram(executable_second):
    """valid.bpmn with a second pool, a committee's process talking to it by messages."""
    xml = (DATA / "valid.bpmn").read_text()
    second = (f'<bpmn:process id="residents" name="Residents" isExecutable="{executable_second}">'
              '<bpmn:startEvent id="Start_residents" /></bpmn:process>')
    xml = xml.replace("</bpmn:collaboration>", '<bpmn:participant id="Participant_residents" name="居民议事会" '
                      'processRef="residents" /><bpmn:messageFlow id="Message_1" sourceRef="Task_propose" '
                      'targetRef="Participant_residents" /></bpmn:collaboration>')
    return xml.replace("</bpmn:definitions>", second + "</bpmn:definitions>")


def test_two_executable_pools_are_refused_naming_both():
    findings = validate_bundle({"pools.bpmn": pools_diagram("true")}, FORMS, ROLE_KEYS, {"count_votes"})
    (finding,) = findings
    assert finding.element_id == "Collaboration_valid"
    assert "2 executable pools" in finding.message
    assert "small_project (Small project)" in finding.message and "residents (居民议事会)" in finding.message


def test_a_pool_of_another_party_not_executable_is_fine():
    assert validate_bundle({"pools.bpmn": pools_diagram("false")}, FORMS, ROLE_KEYS, {"count_votes"}) == []


def test_a_file_without_a_process_is_refused():
    xml = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
           'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="x"/>')
    (finding,) = validate_bundle({"empty.bpmn": xml}, {}, ROLE_KEYS, set())
    assert finding.message == "the file has no process to run (no bpmn:process element)"


@pytest.mark.parametrize("filename, element_id, marker, message", [
    ("unsupported.bpmn", "Gateway_passed", "<bpmn:complexGateway", "bpmn:complexGateway is not supported"),
    ("dangling.bpmn", "Flow_2", 'id="Flow_2"', "sequence flow Flow_2 points to missing element Task_counting"),
    ("script_syntax.bpmn", "Task_tally", "<bpmn:script>", "script: syntax error"),
    ("script_import.bpmn", "Task_tally", "<bpmn:script>", "'__import__' is not allowed"),
    ("unknown_lane.bpmn", "Lane_town", "street_office", "lane 'street_office' is not a known role"),
    ("unknown_topic.bpmn", "Task_count", "send_fax", "no worker handles the service topic 'send_fax'"),
    ("missing_form.bpmn", "Task_propose", "proposal.schema.json", "form 'proposal.schema.json' does not exist"),
    ("bad_timer.bpmn", "Timer_propose", "<bpmn:timeDuration", "'P7 days' is not valid ISO 8601"),
    ("boundary_on_nothing.bpmn", "Timer_propose", "attachedToRef=", "attachedToRef refers to missing element Task_proposal"),
])
def test_a_broken_diagram_is_refused_at_the_right_element_and_line(filename, element_id, marker, message):
    (finding,) = validate(filename)
    assert finding.severity == "error"
    assert (finding.file, finding.element_id, finding.line) == (filename, element_id, line_of(filename, marker))
    assert message in finding.message


def test_truncated_xml_names_the_line_where_it_breaks():
    (finding,) = validate("truncated.bpmn")
    assert finding.line == line_of("truncated.bpmn", 'id="Task_cut"')
    assert finding.message.startswith("not well-formed XML")


def test_every_xsd_error_is_reported_not_only_the_last():
    findings = validate("xsd_invalid.bpmn")
    assert [(f.element_id, f.line) for f in findings] == [
        ("Task_propose", line_of("xsd_invalid.bpmn", "<bpmn:checklist")),
        ("Flow_3", line_of("xsd_invalid.bpmn", 'weight="3"')),
    ]
    assert "bpmn:checklist" in findings[0].message and "'weight' is not allowed" in findings[1].message


def test_three_problems_in_one_file_are_all_reported():
    findings = validate("three_problems.bpmn")
    assert sorted((f.element_id, f.line) for f in findings) == sorted([
        ("Flow_2", line_of("three_problems.bpmn", 'id="Flow_2"')),
        ("Lane_town", line_of("three_problems.bpmn", "street_office")),
        ("Task_sign", line_of("three_problems.bpmn", '<bpmn:manualTask id="Task_sign"')),
    ])
    assert any("no 'step' property" in f.message for f in findings)


@pytest.mark.parametrize("form, message", [
    ({"type": "objekt"}, "not a valid JSON Schema at type"),
    ('{"type": "object",\n "properties": }', "not valid JSON"),
])
def test_an_invalid_form_is_refused_and_so_is_the_task_using_it(form, message):
    findings = validate("valid.bpmn", forms={"propose.schema.json": form})
    by_file = {f.file: f for f in findings}
    assert message in by_file["propose.schema.json"].message
    assert by_file["valid.bpmn"].element_id == "Task_propose"
    assert "is not a valid JSON Schema" in by_file["valid.bpmn"].message


def test_a_reserved_id_is_refused():
    xml = (DATA / "valid.bpmn").read_text().replace("Start_proposed", "Start")
    (finding,) = validate_bundle({"d.bpmn": xml}, FORMS, ROLE_KEYS, {"count_votes"})
    assert finding.element_id == "Start" and "reserved" in finding.message


def test_a_step_outside_one_to_seven_is_refused():
    xml = (DATA / "valid.bpmn").read_text().replace('name="step" value="4"', 'name="step" value="9"')
    (finding,) = validate_bundle({"d.bpmn": xml}, FORMS, ROLE_KEYS, {"count_votes"})
    assert finding.element_id == "Task_sign" and "step '9'" in finding.message


def test_a_call_to_a_process_not_uploaded_is_refused():
    xml = (DATA / "valid.bpmn").read_text()
    xml = xml.replace('<bpmn:manualTask id="Task_sign" name="Sign the agreement">',
                      '<bpmn:callActivity id="Task_sign" name="Sign the agreement" calledElement="signing">')
    xml = xml.replace("</bpmn:manualTask>", "</bpmn:callActivity>")
    findings = validate_bundle({"d.bpmn": xml}, FORMS, ROLE_KEYS, {"count_votes"})
    assert [(f.element_id, "'signing'" in f.message) for f in findings] == [("Task_sign", True)]


def test_findings_read_as_one_line_each():
    finding = Finding(file="seven_step_project.bpmn", line=123, element_id="Task_vote",
                      element_name="居民代表投票", message="form 'x' does not exist")
    assert str(finding) == "seven_step_project.bpmn:123 [Task_vote] 居民代表投票: form 'x' does not exist"
    assert str(Finding(file="f.schema.json", message="not valid JSON")) == "f.schema.json: not valid JSON"


def test_validate_or_raise_carries_all_findings():
    bundle = {name: (DATA / name).read_bytes() for name in ("valid.bpmn", "three_problems.bpmn")}
    with pytest.raises(ValidationError) as raised:
        validate_or_raise(bundle, FORMS, ROLE_KEYS, {"count_votes"})
    assert len(raised.value.findings) == 3
    assert {f.file for f in raised.value.findings} == {"three_problems.bpmn"}
    assert validate_or_raise({"valid.bpmn": (DATA / "valid.bpmn").read_bytes()}, FORMS, ROLE_KEYS, {"count_votes"}) == []


SEVEN_STEP = ROOT / "processes" / "seven_step_project.bpmn"


@pytest.mark.skipif(not SEVEN_STEP.exists(), reason="the seven-step diagram is not written yet")
def test_the_seven_step_process_validates_cleanly():
    xml = SEVEN_STEP.read_text()
    topics = set(re.findall(r'serviceTaskOperator id="([^"]+)"', xml))
    forms = {f.name: json.loads(f.read_text()) for f in (SEVEN_STEP.parent / "forms").glob("*.schema.json")}
    assert validate_bundle({SEVEN_STEP.name: xml}, forms, ROLE_KEYS, topics) == []
    # and without its topics' handlers it is refused
    assert validate_bundle({SEVEN_STEP.name: xml}, forms, ROLE_KEYS, set())


def test_the_vote_rule_parameters_accept_only_the_allowed_words():
    from tests import diagram_edits as edits
    from workers.registry import PARAMETER_CHECKS, TOPICS

    forms = {p.name: p.read_text() for p in (edits.PROCESSES / "forms").glob("*.json")}

    def check(xml):
        return [f for f in validate_bundle({"seven_step_project.bpmn": xml}, forms, ROLE_KEYS, set(TOPICS),
                                           PARAMETER_CHECKS) if f.severity == "error"]

    assert check(edits.original()) == []
    assert check(edits.set_param(edits.original(), "tally_votes", "quorum_comparison", '"more_than"')) == []
    assert check(edits.set_param(edits.original(), "tally_votes", "pass_comparison", '"at_least"')) == []
    [finding] = check(edits.set_param(edits.original(), "tally_votes", "pass_comparison", '"mostly"'))
    assert finding.element_id == "tally_votes" and "pass_comparison" in finding.message
    assert '"at_least" or "more_than"' in finding.message
    [finding] = check(edits.set_param(edits.original(), "tally_votes", "quorum_ratio", "3/2"))
    assert "quorum_ratio" in finding.message


def role_lane(xml, lane_id, name, role):
    """``xml`` with lane ``lane_id`` named ``name`` for people and, when ``role`` is not None,
    carrying the role key as its ``role`` property (the format of the seven-step diagram)."""
    start = xml.index(f'<bpmn:lane id="{lane_id}"')
    end = xml.index(">", start) + 1
    tag = f'<bpmn:lane id="{lane_id}" name="{name}">'
    if role is not None:
        tag += ('<bpmn:extensionElements><spiffworkflow:properties>'
                f'<spiffworkflow:property name="role" value="{role}"/>'
                '</spiffworkflow:properties></bpmn:extensionElements>')
    return xml[:start] + tag + xml[end:]


def test_a_lane_named_in_chinese_with_its_role_property_is_valid_and_routes_by_the_role():
    from engine.core.spiff import parse_process
    xml = role_lane((DATA / "valid.bpmn").read_text(), "Lane_town", "镇政府/街道办", "town_government")
    assert validate_bundle({"d.bpmn": xml}, FORMS, ROLE_KEYS, {"count_votes"}) == []
    _, spec, _ = parse_process(xml)
    assert {s.lane for s in spec.task_specs.values() if s.bpmn_id == "Task_sign"} == {"town_government"}


@pytest.mark.parametrize("name, role, message", [
    ("镇政府/街道办", None, "lane '镇政府/街道办' is not a known role; give it a 'role' property"),
    ("镇政府/街道办", "street_office", "the lane's role 'street_office' is not a known role"),
    ("town_government", "", "the lane's 'role' property is empty"),
])
def test_a_lane_without_a_known_role_key_is_refused(name, role, message):
    xml = role_lane((DATA / "valid.bpmn").read_text(), "Lane_town", name, role)
    (finding,) = validate_bundle({"d.bpmn": xml}, FORMS, ROLE_KEYS, {"count_votes"})
    assert finding.severity == "error" and finding.element_id == "Lane_town" and message in finding.message
