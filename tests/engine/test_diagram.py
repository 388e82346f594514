"""The Seven-Step diagram (processes/seven_step_project.bpmn) driven in memory with SpiffWorkflow.

Service tasks are completed the way the engine completes them after a worker's job; user
tasks the way the runtime completes them after a form is submitted.
"""
import json
from pathlib import Path

import jsonschema
import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnEvent
# The diagram is parsed with the spiff parser, whose event definitions are its own classes; an
# event matches only a definition of the same class, so events sent in must use those classes.
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition, MessageEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.core.spiff import ExternalServiceTask, force_timer, parse_process

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
DIAGRAM = PROCESSES / "seven_step_project.bpmn"
ROLES = {"community_committee", "town_government", "social_organization", "resident_representative",
         "evaluation_panel", "supervisor"}
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI",
      "spiff": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
FLOW_NODES = ("startEvent", "endEvent", "userTask", "serviceTask", "scriptTask", "exclusiveGateway",
              "subProcess", "boundaryEvent")

APPLICATION = {
    "application_title": "银龄互助", "application_background": "老龄化", "application_significance": "互助养老",
    "application_findings_summary": "独居老人需要陪伴", "application_service_field": "elderly",
    "application_goals": "每周探访", "application_expected_effect": "孤独感下降",
    "application_phases": [{"phase": "筹备", "start": "2024-03-01", "end": "2024-03-31", "activities": "招募志愿者"}],
    "application_budget": [{"item": "活动", "amount": 30000}], "application_budget_total": 30000,
}
# Form answers per user task for a project that goes straight through.
FORMS = {
    "confirm_catalog_item": {"screening_item_confirmed": True, "screening_service_scope": "居家养老",
                             "screening_org_qualification": "登记三年", "screening_org_capacity": "strong"},
    "revise_screening": {"screening_revision_notes": "补充材料"},
    "approve_qualification": {"town_qualification_decision": "approve"},
    "plan_survey": {"survey_plan": "问卷", "survey_method": "questionnaire", "survey_respondents": 120,
                    "survey_findings": [{"topic": "陪伴", "finding": "需要探访", "share": 62.5}]},
    "write_application": APPLICATION,
    "supervise_before": {"supervision_before_result": "approve", "supervision_before_opinion": "可行"},
    "consultation_meeting": {"consultation_date": "2024-02-01", "consultation_suggestions": "无",
                             "consultation_participants": [{"name": "王", "category": "resident"}],
                             "consultation_outcome": "mature"},
    "revise_application": {"revision_response": "已修改", "application_goals": "每周两次探访"},
    "decide_failed_vote": {"failed_vote_decision": "redo", "failed_vote_reason": "再议"},
    "approve_application": {"town_application_decision": "approve"},
    "purchase_decision": {"purchase_buy": True, "purchase_amount": 30000, "purchase_first_installment": 9000,
                          "purchase_final_installment": 21000, "purchase_funding_source": "福彩公益金",
                          "purchase_acceptance_criteria": ["探访 500 人次"]},
    "sign_purchaser": {"purchaser_signatory": "镇长", "purchaser_sign_date": "2024-03-01", "purchaser_agrees": True},
    "sign_contractor": {"contractor_signatory": "理事长", "contractor_sign_date": "2024-03-02",
                        "contractor_agrees": True},
    "report_progress": {"progress_period": "3月", "progress_activities": "探访", "delivery_finished": True},
    "supervise_during": {"supervision_during_result": "on_track", "supervision_during_opinion": "良好"},
    "coordination_meeting": {"coordination_date": "2024-04-01", "coordination_issue": "噪音",
                             "coordination_parties": [{"name": "李", "role": "resident"}],
                             "coordination_outcome": "resolved"},
    "self_evaluation": {"self_evaluation_summary": "完成", "self_evaluation_goals_met": "fully"},
    "write_case_study": {"case_study_title": "张阿姨", "case_study_text": "个案"},
    "supervise_after": {"supervision_after_result": "good", "supervision_after_opinion": "成效明显"},
    "form_panel": {"panel_members": ["p1", "p2", "p3"], "panel_method": "会议评议",
                   "panel_member_categories": [{"username": "p1", "category": "expert"}]},
    "rectify": {"rectify_measures": "补充台账"},
}
PROJECT = {"title": "银龄互助", "town_id": 1, "community_id": 1, "organization_id": 1, "catalog_item_id": 1,
           "social_work": False, "lead": "lead1", "organization_name": "乐龄社", "community_name": "象东社区",
           "item_name": "居家养老"}


@pytest.fixture(scope="module")
def parsed():
    return parse_process(DIAGRAM.read_text(encoding="utf-8"), filename=DIAGRAM.name)


class Run:
    """One instance of the diagram, driven the way the engine and the workers drive it."""

    def __init__(self, parsed, **project):
        _, spec, subprocess_specs = parsed
        self.wf = BpmnWorkflow(spec, subprocess_specs)
        for task in self.wf.get_tasks(state=TaskState.READY):
            task.data.update(project={**PROJECT, **project}, instance_id=1)
        self.wf.do_engine_steps()
        self.done = []

    def human(self, bpmn_id=None):
        tasks = self.wf.get_tasks(state=TaskState.READY, manual=True)
        return [t for t in tasks if bpmn_id is None or t.task_spec.bpmn_id == bpmn_id]

    def services(self):
        return [t for t in self.wf.get_tasks(state=TaskState.STARTED) if isinstance(t.task_spec, ExternalServiceTask)]

    def open(self):
        return sorted(t.task_spec.bpmn_id for t in self.human() + self.services())

    def user(self, bpmn_id, **changes):
        tasks = self.human(bpmn_id)
        assert len(tasks) == 1, f"expected {bpmn_id} to wait, open: {self.open()}"
        task = tasks[0]
        data = {**FORMS.get(bpmn_id, {}), **changes}
        task.data.update(data)
        task.run()
        self.wf.do_engine_steps()
        self.done.append(bpmn_id)
        return task

    def service(self, bpmn_id, result):
        tasks = [t for t in self.services() if t.task_spec.bpmn_id == bpmn_id]
        assert len(tasks) == 1, f"expected service {bpmn_id} to run, open: {self.open()}"
        task = tasks[0]
        task.data[task.task_spec.result_variable] = result
        task.complete()
        self.wf.do_engine_steps()
        self.done.append(bpmn_id)
        return task

    def bpmn_error(self, bpmn_id, code):
        (task,) = [t for t in self.services() if t.task_spec.bpmn_id == bpmn_id]
        self.wf.catch(BpmnEvent(ErrorEventDefinition(code, code=code), payload={"message": code}))
        self.wf.do_engine_steps()
        assert task.state != TaskState.STARTED, f"nothing caught {code} from {bpmn_id}"

    def params(self, bpmn_id):
        (task,) = [t for t in self.services() if t.task_spec.bpmn_id == bpmn_id]
        return {k: v["value"] for k, v in task.task_spec.evaluate_params(task).items()}

    def vote(self, ballots):
        """Each voter named in ``ballots`` casts a ballot; returns the tally task's data."""
        for task in self.human("cast_ballot"):
            voter = task.data["voter"]
            if voter in ballots:
                task.data["ballot"] = ballots[voter]
                task.run()
                self.wf.do_engine_steps()

    def score(self, scores):
        for task in self.human("score_project"):
            task.data.update(panel_score=scores[task.data["panel_member"]], panel_comments="好")
            task.run()
            self.wf.do_engine_steps()

    def data(self):
        return self.wf.last_task.data

    def end(self):
        """The id of the end event the instance finished at (None while it runs)."""
        if not self.wf.is_completed():
            return None
        (end,) = [t.task_spec.bpmn_id for t in self.wf.get_tasks(state=TaskState.COMPLETED)
                  if t.workflow is self.wf and type(t.task_spec).__name__ == "EndEvent"]
        return end


def through_step_3(run, revisions=0, social_work=False):
    run.user("confirm_catalog_item")
    run.service("check_eligibility", {"eligible": True, "reasons": []})
    run.user("approve_qualification")
    run.user("plan_survey")
    run.user("write_application")
    if social_work:
        run.user("supervise_before")
    for _ in range(revisions):
        run.user("consultation_meeting", consultation_outcome="revise")
        run.user("revise_application")
    run.user("consultation_meeting")


def passing_vote(run, voters=("r1", "r2", "r3")):
    run.service("draw_up_roster", {"voters": list(voters), "recused": [{"username": "lead1", "reason": "lead"}],
                                   "members": len(voters)})
    run.vote({v: "yes" for v in voters})
    ballots = run.params("tally_votes")["ballots"]
    assert sorted(b["voter"] for b in ballots) == sorted(voters)
    run.service("tally_votes", {"valid": True, "passed": True, "present": len(voters), "members": len(voters),
                                "yes": len(voters), "no": 0, "abstain": 0})


def steps_5_to_7(run, social_work=False, coordination=False):
    run.user("approve_application")
    run.user("purchase_decision")
    assert run.params("earmark_funds") == {"amount": 30000}
    run.service("earmark_funds", {"earmarked": 30000})
    assert run.params("draft_agreement")["application"]["goals"]
    run.service("draft_agreement", {"agreement_id": 1})
    run.user("sign_purchaser")
    run.user("sign_contractor")
    run.service("record_signatures", {"status": "signed"})
    run.service("verify_agreement", {"ok": True, "problems": []})
    assert run.params("pay_first_installment") == {"installment": 1}
    run.service("pay_first_installment", {"installment": 1})
    run.user("report_progress", delivery_finished=False)
    if social_work:
        run.user("supervise_during")
    if coordination:
        request_coordination(run, issue="噪音", by="resident1")
        assert run.open() == ["coordination_meeting", "report_progress"]
        (meeting,) = run.human("coordination_meeting")
        assert meeting.data["coordination_request"] == {"issue": "噪音", "by": "resident1"}
        assert meeting.task_spec.lane == "community_committee"
        run.user("coordination_meeting")
    run.user("report_progress")
    if social_work:
        run.user("supervise_during")
    run.user("self_evaluation")
    if social_work:
        run.user("write_case_study")
        run.user("supervise_after")
    run.user("form_panel")
    assert run.params("check_panel") == {"panel": ["p1", "p2", "p3"]}
    run.service("check_panel", {"members": ["p1", "p2", "p3"], "size": 3})
    assert sorted(t.data["panel_member"] for t in run.human("score_project")) == ["p1", "p2", "p3"]
    run.score({"p1": 80, "p2": 70, "p3": 90})
    params = run.params("decide_evaluation")
    assert params["pass_score"] == 60 and params["members"] == ["p1", "p2", "p3"]
    assert sorted(s["score"] for s in params["scores"]) == [70, 80, 90]
    run.service("decide_evaluation", {"accepted": True, "average": "80.00", "count": 3, "pass_score": "60"})
    assert run.params("pay_final_installment") == {"installment": 2}
    run.service("pay_final_installment", {"installment": 2})


def test_happy_path_with_two_revision_rounds(parsed):
    run = Run(parsed)
    through_step_3(run, revisions=2)
    passing_vote(run)
    steps_5_to_7(run)
    assert run.wf.is_completed()
    assert run.end() == "end_accepted"
    assert run.data()["revision_rounds"] == 2
    assert run.data()["application_goals"] == "每周两次探访"  # the revision replaced the application's field
    assert not {"supervise_before", "supervise_during", "write_case_study", "supervise_after"} & set(run.done)


def test_social_work_project_is_supervised_and_writes_a_case_study(parsed):
    run = Run(parsed, social_work=True)
    through_step_3(run, social_work=True)
    passing_vote(run)
    steps_5_to_7(run, social_work=True)
    assert run.wf.is_completed()
    assert [s for s in run.done if s.startswith(("supervise", "write_case"))] == [
        "supervise_before", "supervise_during", "supervise_during", "write_case_study", "supervise_after"]
    assert run.end() == "end_accepted"


def test_failed_vote_then_redo_then_pass(parsed):
    run = Run(parsed)
    through_step_3(run)
    run.service("draw_up_roster", {"voters": ["r1", "r2", "r3"], "recused": [], "members": 3})
    run.vote({"r1": "no", "r2": "no", "r3": "yes"})
    run.service("tally_votes", {"valid": True, "passed": False, "present": 3, "members": 3,
                                "yes": 1, "no": 2, "abstain": 0})
    run.user("decide_failed_vote")
    run.user("revise_application")
    run.user("consultation_meeting")
    # the second vote starts with an empty ballot box
    run.service("draw_up_roster", {"voters": ["r1", "r2", "r3", "r4"], "recused": [], "members": 4})
    run.vote({"r1": "yes", "r2": "yes", "r3": "abstain", "r4": "yes"})
    ballots = run.params("tally_votes")["ballots"]
    assert sorted((b["voter"], b["ballot"]) for b in ballots) == [
        ("r1", "yes"), ("r2", "yes"), ("r3", "abstain"), ("r4", "yes")]
    run.service("tally_votes", {"valid": True, "passed": True, "present": 4, "members": 4,
                                "yes": 3, "no": 0, "abstain": 1})
    steps_5_to_7(run)
    assert run.wf.is_completed() and run.data()["revision_rounds"] == 1


def test_rejected_after_failed_vote(parsed):
    run = Run(parsed)
    through_step_3(run)
    run.service("draw_up_roster", {"voters": ["r1"], "recused": [], "members": 1})
    run.vote({"r1": "no"})
    run.service("tally_votes", {"valid": True, "passed": False, "present": 1, "members": 1,
                                "yes": 0, "no": 1, "abstain": 0})
    run.user("decide_failed_vote", failed_vote_decision="reject")
    assert run.end() == "end_rejected"


def test_voting_deadline_keeps_cast_ballots_and_marks_the_absent(parsed):
    run = Run(parsed)
    through_step_3(run)
    run.service("draw_up_roster", {"voters": ["r1", "r2", "r3"], "recused": [], "members": 3})
    (cast,) = [t for t in run.human("cast_ballot") if t.data["voter"] == "r1"]
    assert cast.task_spec.lane == "resident_representative"
    assert cast.task_spec.extensions["properties"]["assignee"] == "voter"
    run.vote({"r1": "yes", "r2": "no"})
    deadlines = [t for t in run.wf.get_tasks(state=TaskState.WAITING) if t.task_spec.bpmn_id == "ballot_deadline"]
    assert len(deadlines) == 1  # only r3's ballot is still open
    force_timer(deadlines[0])
    run.wf.do_engine_steps()
    assert run.open() == ["tally_votes"]
    ballots = run.params("tally_votes")["ballots"]
    assert sorted((b["voter"], b["ballot"]) for b in ballots) == [("r1", "yes"), ("r2", "no"), ("r3", "absent")]


def test_coordination_meeting_can_be_called_during_delivery(parsed):
    run = Run(parsed)
    through_step_3(run)
    passing_vote(run)
    steps_5_to_7(run, coordination=True)
    assert run.wf.is_completed() and run.done.count("coordination_meeting") == 1


def request_coordination(run, **payload):
    run.wf.send_event(BpmnEvent(MessageEventDefinition("coordination_requested"), payload=payload))
    run.wf.do_engine_steps()


def test_coordination_meetings_come_one_at_a_time_and_only_during_delivery(parsed):
    run = Run(parsed)
    through_step_3(run)
    passing_vote(run)
    run.user("approve_application")
    assert "coordination_requested" not in {e.name for e in run.wf.waiting_events()}
    with pytest.raises(WorkflowException):
        request_coordination(run, n=0)
    run.user("purchase_decision")
    run.service("earmark_funds", {})
    run.service("draft_agreement", {})
    run.user("sign_purchaser")
    run.user("sign_contractor")
    run.service("record_signatures", {})
    run.service("verify_agreement", {"ok": True})
    run.service("pay_first_installment", {})
    for n in range(2):
        assert "coordination_requested" in {e.name for e in run.wf.waiting_events()}
        request_coordination(run, n=n)
        assert run.open() == ["coordination_meeting", "report_progress"]
        assert "coordination_requested" not in {e.name for e in run.wf.waiting_events()}
        (meeting,) = run.human("coordination_meeting")
        assert meeting.data["coordination_request"] == {"n": n}
        run.user("coordination_meeting")
    run.user("report_progress", delivery_finished=False)
    request_coordination(run, n=2)
    run.user("report_progress")  # finishing delivery closes the meeting still open
    assert run.open() == ["self_evaluation"]
    with pytest.raises(WorkflowException):
        request_coordination(run, n=3)


def test_bpmn_errors_route_back(parsed):
    run = Run(parsed)
    through_step_3(run)
    passing_vote(run)
    run.user("approve_application")
    run.user("purchase_decision")
    run.bpmn_error("earmark_funds", "insufficient_funds")
    run.user("purchase_decision")
    run.service("earmark_funds", {})
    run.service("draft_agreement", {})
    run.user("sign_purchaser")
    run.user("sign_contractor")
    run.service("record_signatures", {})
    run.bpmn_error("verify_agreement", "agreement_tampered")
    assert run.open() == ["draft_agreement"]
    run.service("draft_agreement", {})
    run.user("sign_purchaser")
    run.user("sign_contractor")
    run.service("record_signatures", {})
    run.service("verify_agreement", {"ok": True})
    run.service("pay_first_installment", {})
    run.user("report_progress")
    run.user("self_evaluation")
    run.user("form_panel")
    run.bpmn_error("check_panel", "invalid_panel")
    run.user("form_panel", panel_members=["p1", "p2"])
    run.service("check_panel", {})
    run.score({"p1": 40, "p2": 50})
    run.service("decide_evaluation", {"accepted": False, "average": "45.00"})
    run.user("rectify")
    run.user("self_evaluation")
    run.user("form_panel")
    run.service("check_panel", {})
    run.score({"p1": 80, "p2": 70, "p3": 90})
    assert len(run.params("decide_evaluation")["scores"]) == 3  # the second round starts with no scores
    run.service("decide_evaluation", {"accepted": True})
    run.service("pay_final_installment", {})
    assert run.end() == "end_accepted"


@pytest.mark.parametrize("decision, end", [("not_eligible", "end_not_eligible"), ("no_buy", "end_not_purchased")])
def test_early_ends(parsed, decision, end):
    run = Run(parsed)
    run.user("confirm_catalog_item")
    if decision == "not_eligible":
        run.service("check_eligibility", {"eligible": False, "reasons": ["no registration"]})
    else:
        run.service("check_eligibility", {"eligible": True})
        run.user("approve_qualification", town_qualification_decision="send_back")
        run.user("revise_screening")
        run.service("check_eligibility", {"eligible": True})
        run.user("approve_qualification")
        run.user("plan_survey")
        run.user("write_application")
        run.user("consultation_meeting")
        passing_vote(run)
        run.user("approve_application")
        run.user("purchase_decision", purchase_buy=False)
    assert run.end() == end


def test_two_hundred_revision_rounds_still_complete(parsed):
    run = Run(parsed)
    through_step_3(run, revisions=200)
    passing_vote(run, voters=("r1",))
    steps_5_to_7(run)
    assert run.wf.is_completed() and run.data()["revision_rounds"] == 200


# --- static checks of the diagram and its forms -------------------------------------------------

def _all_specs(parsed):
    _, spec, subprocess_specs = parsed
    for process in [spec, *subprocess_specs.values()]:
        yield from process.task_specs.values()


def _forms():
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in (PROCESSES / "forms").glob("*.schema.json")}


def test_every_task_has_a_step_and_every_user_task_a_valid_form(parsed):
    forms = _forms()
    user_tasks = 0
    for spec in _all_specs(parsed):
        kind = type(spec).__name__
        if kind not in ("UserTask", "ExternalServiceTask", "ManualTask"):
            continue
        props = spec.extensions.get("properties", {})
        assert 1 <= int(props.get("step", 0)) <= 7, spec.bpmn_id
        if kind == "UserTask":
            user_tasks += 1
            schema = forms[props["formJsonSchemaFilename"]]
            jsonschema.Draft202012Validator.check_schema(schema)
            assert schema["title"] and schema["description"]
            assert props["dueIn"].startswith("P")
            if spec.bpmn_id in FORMS:
                jsonschema.Draft202012Validator(schema).validate(FORMS[spec.bpmn_id])
    assert user_tasks == len(forms) == 23


def test_form_fields_are_titled_and_unique_across_the_process():
    seen = {}
    for name, schema in _forms().items():
        for field, prop in schema["properties"].items():
            assert prop["title"] and prop["x-title-en"], (name, field)
            if "enum" in prop:
                assert len(prop["x-enum-titles"]) == len(prop["enum"]), (name, field)
            seen.setdefault(field, []).append(name)
    shared = {f: names for f, names in seen.items() if len(names) > 1}
    # the revision form deliberately rewrites the application's own fields
    assert set(shared) == {f for f in seen if f.startswith("application_")}
    assert all(sorted(names) == ["revise_application.schema.json", "write_application.schema.json"]
               for names in shared.values())


LANE_NAMES = {"community_committee": "社区居委会", "town_government": "镇政府/街道办", "social_organization": "社会组织",
              "resident_representative": "居民代表", "evaluation_panel": "评议小组", "supervisor": "社工督导"}
STEP_NUMBERS = "一二三四五六七"


def test_every_lane_is_named_in_chinese_and_carries_its_role_and_every_human_task_has_one(parsed):
    tree = etree.parse(str(DIAGRAM))
    roles = {}
    for lane in tree.iter(f"{{{NS['bpmn']}}}lane"):
        [prop] = lane.findall("bpmn:extensionElements/spiff:properties/spiff:property", NS)
        assert prop.get("name") == "role"
        roles[prop.get("value")] = lane.get("name")
    assert roles == LANE_NAMES
    for spec in _all_specs(parsed):
        if type(spec).__name__ in ("UserTask", "ExternalServiceTask", "ScriptTask"):
            assert spec.lane in ROLES, spec.bpmn_id


def test_diagram_interchange_covers_every_element():
    tree = etree.parse(str(DIAGRAM))
    shapes = {s.get("bpmnElement"): s for s in tree.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in tree.iterfind(".//bpmndi:BPMNEdge", NS)}
    process = tree.find("bpmn:process", NS)
    nodes = [n for tag in FLOW_NODES for n in process.iterfind(f".//bpmn:{tag}", NS)]
    assert len(nodes) > 60
    for node in (nodes + list(tree.iterfind(".//bpmn:lane", NS)) + list(tree.iterfind(".//bpmn:participant", NS))
                 + list(tree.iterfind(".//bpmn:group", NS))):
        assert node.get("id") in shapes, node.get("id")
        assert shapes[node.get("id")].find("dc:Bounds", NS) is not None
    for flow in process.iterfind(".//bpmn:sequenceFlow", NS):
        assert len(edges[flow.get("id")].findall("di:waypoint", NS)) >= 2, flow.get("id")


def test_service_topics_and_parameters_are_in_the_diagram(parsed):
    topics = {spec.bpmn_id: (spec.topic, spec.result_variable, {k: v["value"] for k, v in spec.operation_params.items()})
              for spec in _all_specs(parsed) if isinstance(spec, ExternalServiceTask)}
    assert topics["tally_votes"][0] == "vote_tally" and topics["tally_votes"][1] == "vote_result"
    assert topics["tally_votes"][2]["quorum_ratio"] == "2/3" and topics["tally_votes"][2]["pass_ratio"] == "1/2"
    assert topics["decide_evaluation"][2]["pass_score"] == "60"
    assert {t for t, _, _ in topics.values()} == {
        "eligibility_check", "vote_roster", "vote_tally", "funds_earmark", "agreement_draft", "agreement_sign",
        "agreement_verify", "payment", "panel_check", "acceptance_decision"}


def _bounds(shape):
    b = shape.find("dc:Bounds", NS)
    x, y = float(b.get("x")), float(b.get("y"))
    return x, y, x + float(b.get("width")), y + float(b.get("height"))


def test_each_step_is_a_group_drawn_around_its_tasks():
    tree = etree.parse(str(DIAGRAM))
    shapes = {s.get("bpmnElement"): _bounds(s) for s in tree.iterfind(".//bpmndi:BPMNShape", NS)}
    values = {v.get("id"): v.get("value") for v in tree.iterfind("bpmn:category/bpmn:categoryValue", NS)}
    process = tree.find("bpmn:process", NS)
    groups = {}
    for group in process.iterfind("bpmn:group", NS):
        title = values[group.get("categoryValueRef")]
        assert title.startswith("第") and title[2:4] == "步 " and len(title) > 4, title
        groups[STEP_NUMBERS.index(title[1]) + 1] = shapes[group.get("id")]
    assert sorted(groups) == [1, 2, 3, 4, 5, 6, 7]
    assert [groups[n][0] for n in range(1, 8)] == sorted(groups[n][0] for n in range(1, 8))
    tasks = 0
    for node in process:  # top-level nodes; a subprocess's inner tasks are drawn inside it
        if not isinstance(node.tag, str):
            continue
        step = node.find("bpmn:extensionElements/spiff:properties/spiff:property[@name='step']", NS)
        if step is None:
            continue
        tasks += 1
        x0, y0, x1, y1 = shapes[node.get("id")]
        gx0, gy0, gx1, gy1 = groups[int(step.get("value"))]
        assert gx0 <= x0 and x1 <= gx1 and gy0 <= y0 and y1 <= gy1, (node.get("id"), step.get("value"))
        for other, bounds in groups.items():  # and in no other step's group
            if other != int(step.get("value")):
                assert bounds[2] <= x0 or x1 <= bounds[0], (node.get("id"), other)
    assert tasks > 30


def test_every_task_and_gateway_states_its_rule_in_one_chinese_sentence():
    tree = etree.parse(str(DIAGRAM))
    kinds = ("userTask", "serviceTask", "scriptTask", "exclusiveGateway", "parallelGateway", "subProcess")
    nodes = [n for kind in kinds for n in tree.iterfind(f".//bpmn:{kind}", NS)]
    assert len(nodes) > 60
    for node in nodes:
        docs = node.findall("bpmn:documentation", NS)
        assert len(docs) == 1 and node[0] is docs[0], node.get("id")  # the schema wants it first
        text = docs[0].text.strip()
        assert text.endswith("。") and text.count("。") == 1 and "\n" not in text, node.get("id")
        assert sum("\u4e00" <= ch <= "\u9fff" for ch in text) > len(text) / 2, node.get("id")
