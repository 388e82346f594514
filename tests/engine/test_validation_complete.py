"""Every finding at once, one line each, named by an element a person can find."""
import re
from pathlib import Path

from engine.core.models import ROLES
from engine.core.validation import validate_bundle

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "validation"
ROLE_KEYS = [r for r in ROLES if r != "administrator"]
FORMS = {"propose.schema.json": (DATA / "forms" / "propose.schema.json").read_text()}
VALID = (DATA / "valid.bpmn").read_text()


def validate(xml, forms=FORMS):
    return validate_bundle({"d.bpmn": xml}, forms, ROLE_KEYS, {"count_votes"})


def errors(xml, forms=FORMS):
    return [f for f in validate(xml, forms) if f.severity == "error"]


def second_gateway(xml):
    """valid.bpmn with a second deciding gateway after the signing, two ways out."""
    xml = xml.replace('<bpmn:sequenceFlow id="Flow_5" sourceRef="Task_sign" targetRef="End_done" />',
                      '<bpmn:sequenceFlow id="Flow_5" sourceRef="Task_sign" targetRef="Gateway_signed" />'
                      '<bpmn:exclusiveGateway id="Gateway_signed" name="Signed?"><bpmn:incoming>Flow_5</bpmn:incoming>'
                      '<bpmn:outgoing>Flow_s1</bpmn:outgoing><bpmn:outgoing>Flow_s2</bpmn:outgoing></bpmn:exclusiveGateway>'
                      '<bpmn:sequenceFlow id="Flow_s1" sourceRef="Gateway_signed" targetRef="End_done" />'
                      '<bpmn:sequenceFlow id="Flow_s2" sourceRef="Gateway_signed" targetRef="End_rejected" />')
    return xml.replace('<bpmn:incoming>Flow_5</bpmn:incoming>\n    </bpmn:endEvent>',
                       '<bpmn:incoming>Flow_s1</bpmn:incoming>\n    </bpmn:endEvent>')


def test_two_gateways_each_missing_a_condition_give_a_finding_for_each_flow():
    xml = second_gateway(VALID.replace('default="Flow_no"', ""))
    found = errors(xml)
    assert sorted(f.element_id for f in found) == ["Flow_no", "Flow_s1", "Flow_s2"]
    assert all("without a condition" in f.message for f in found)


def test_a_sanshe_rule_problem_does_not_hide_a_library_level_one():
    # The lane names no role (Sanshe's rule) and a timer event definition is empty
    # (SpiffWorkflow's): both are reported.
    xml = VALID.replace('name="town_government"', 'name="street_office"')
    xml = xml.replace('<bpmn:boundaryEvent id="Timer_propose" name="Seven days passed" attachedToRef="Task_propose">',
                      '<bpmn:boundaryEvent id="Timer_propose" name="Seven days passed" attachedToRef="Task_propose" '
                      'cancelActivity="true">')
    xml = xml.replace('<bpmn:timeDuration xsi:type="bpmn:tFormalExpression" '
                      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"P7D"</bpmn:timeDuration>', "")
    found = errors(xml)
    by_id = {f.element_id: f.message for f in found}
    assert "street_office" in by_id["Lane_town"]
    assert "SpiffWorkflow cannot run it" in by_id["Timer_propose"]


def test_a_form_with_two_schema_errors_reports_both():
    form = {"type": "objekt", "properties": {"a": {"type": "strin"}}}
    found = [f for f in validate(VALID, {"propose.schema.json": form}) if f.file == "propose.schema.json"]
    assert len(found) == 2
    assert {m.split(":")[0] for m in (f.message for f in found)} == {
        "not a valid JSON Schema at type", "not a valid JSON Schema at properties/a/type"}


def test_a_name_with_a_line_break_stays_on_one_line():
    xml = VALID.replace('name="Count rounds"', 'name="Count&#10;rounds"').replace(
        "revision_rounds = revision_rounds + 1", "revision_rounds = (")
    [finding] = errors(xml)
    assert finding.element_name == "Count rounds"
    assert "\n" not in str(finding)


def test_a_compensation_event_is_named_in_words_not_raw_xml():
    xml = VALID.replace('<bpmn:sequenceFlow id="Flow_late"',
                        '<bpmn:boundaryEvent id="Undo_sign" name="Undo" attachedToRef="Task_sign">'
                        '<bpmn:compensateEventDefinition id="CompDef_1" /></bpmn:boundaryEvent>'
                        '<bpmn:sequenceFlow id="Flow_late"')
    [finding] = errors(xml)
    assert finding.element_id == "Undo_sign"
    assert finding.message == "compensate events are not supported by the engine"
    assert not re.search(r"<bpmn:|0x[0-9a-f]+|b'", str(finding))


AD_HOC = ('<bpmn:adHocSubProcess id="Visits" name="Home visits"><bpmn:incoming>Flow_5</bpmn:incoming>'
          '<bpmn:outgoing>Flow_6</bpmn:outgoing>'
          '<bpmn:manualTask id="Visit_one" name="Visit"><bpmn:extensionElements><spiffworkflow:properties>'
          '<spiffworkflow:property name="step" value="6" /></spiffworkflow:properties></bpmn:extensionElements>'
          '</bpmn:manualTask></bpmn:adHocSubProcess>'
          '<bpmn:sequenceFlow id="Flow_6" sourceRef="Visits" targetRef="End_done" />')


def with_ad_hoc(inner=""):
    xml = VALID.replace('<bpmn:sequenceFlow id="Flow_5" sourceRef="Task_sign" targetRef="End_done" />',
                        '<bpmn:sequenceFlow id="Flow_5" sourceRef="Task_sign" targetRef="Visits" />'
                        + AD_HOC.replace("</bpmn:adHocSubProcess>", inner + "</bpmn:adHocSubProcess>"))
    return xml.replace('<bpmn:incoming>Flow_5</bpmn:incoming>\n    </bpmn:endEvent>',
                       '<bpmn:incoming>Flow_6</bpmn:incoming>\n    </bpmn:endEvent>')


def test_an_ad_hoc_subprocess_needs_no_start_event():
    assert errors(with_ad_hoc()) == []


def test_an_ad_hoc_subprocess_with_a_start_event_is_refused_at_that_event():
    [finding] = errors(with_ad_hoc('<bpmn:startEvent id="Visit_start" />'))
    assert finding.element_id == "Visit_start" and "ad-hoc subprocess" in finding.message


def test_an_element_that_is_no_flow_node_is_named_by_its_process_and_does_not_refuse():
    xml = VALID.replace('<bpmn:laneSet id="LaneSet_valid">',
                        '<bpmn:ioBinding operationRef="Op_1" inputDataRef="In_1" outputDataRef="Out_1" />'
                        '<bpmn:laneSet id="LaneSet_valid">')
    found = [f for f in validate(xml) if "ioBinding" in f.message]
    assert [(f.severity, f.element_id, f.element_name) for f in found] == [("warning", "small_project", "Small project")]
    assert found[0].line == next(n for n, t in enumerate(xml.splitlines(), 1) if "<bpmn:ioBinding" in t)


def test_a_lane_named_in_chinese_takes_its_role_from_its_role_property():
    role = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="role" '
            'value="town_government" /></spiffworkflow:properties></bpmn:extensionElements>')
    xml = VALID.replace('<bpmn:lane id="Lane_town" name="town_government">',
                        f'<bpmn:lane id="Lane_town" name="镇政府">{role}')
    assert errors(xml) == []
    [finding] = errors(xml.replace('value="town_government"', 'value="street_office"'))
    assert finding.element_id == "Lane_town" and "street_office" in finding.message


def test_findings_keep_their_template_so_the_interface_can_translate_them():
    [finding] = errors(VALID.replace('name="step" value="4"', 'name="step" value="9"'))
    assert finding.message.template == "step '%(value)s' is not a number from 1 to 7"
    assert finding.message.values == {"value": "9"}


def test_a_due_time_in_working_days_must_be_a_whole_number():
    prop = '<spiffworkflow:property name="step" value="1" />'
    assert errors(VALID.replace(prop, prop + '<spiffworkflow:property name="dueInWorkingDays" value="5" />')) == []
    [finding] = errors(VALID.replace(prop, prop + '<spiffworkflow:property name="dueInWorkingDays" value="five" />'))
    assert finding.element_id == "Task_propose" and "dueInWorkingDays 'five'" in finding.message
