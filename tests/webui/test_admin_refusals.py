"""Uploads the validation refuses: each names the file, the element and its line, and
nothing is deployed. Every bad diagram is the real one with one mistake in it."""
import io
import json
import re
import zipfile

import pytest
from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.core.models import Definition
from tests import diagram_edits as edits

FILE = "seven_step_project.bpmn"
FORMS = sorted((edits.PROCESSES / "forms").glob("*.json"))


def replaced(old, new):
    xml = edits.original()
    assert xml.count(old) == 1, old
    return xml.replace(old, new)


def line_of(xml, text):
    return xml[:xml.index(text)].count("\n") + 1


# (case, broken diagram, element id, the text on the line the finding must name, words in the message)
CASES = [
    ("xsd_invalid", lambda: replaced('isExecutable="true"', 'isExecutable="maybe"'),
     "seven_step_project", 'isExecutable="maybe"', "not valid BPMN"),
    ("unsupported_element", lambda: replaced('<bpmn:startEvent id="start"', '<bpmn:complexGateway id="gw_complex" />\n    <bpmn:startEvent id="start"'),
     "gw_complex", '<bpmn:complexGateway id="gw_complex"', "complexGateway"),
    ("dangling_flow", lambda: replaced('sourceRef="plan_survey" targetRef="write_application"', 'sourceRef="plan_survey" targetRef="write_applicaton"'),
     "flow_plan_survey_to_write_application", 'targetRef="write_applicaton"', "write_applicaton"),
    ("script_syntax", lambda: replaced('<bpmn:script>voters = roster["voters"]', '<bpmn:script>voters = roster["voters"'),
     "prepare_vote", '<bpmn:script>voters = roster["voters"', "script"),
    ("script_import", lambda: replaced("<spiffworkflow:postScript>revision_rounds = 0<",
                                       '<spiffworkflow:postScript>revision_rounds = __import__("os").getpid()<'),
     "write_application", "__import__", "__import__"),
    ("unknown_lane", lambda: replaced('name="role" value="supervisor"', 'name="role" value="inspector"'),
     "lane_supervisor", 'value="inspector"', "inspector"),
    ("unknown_topic", lambda: replaced('id="vote_tally"', 'id="vote_count"'),
     "tally_votes", 'id="vote_count"', "vote_count"),
    ("missing_form", lambda: replaced('value="plan_survey.schema.json"', 'value="plan_survey_v2.schema.json"'),
     "plan_survey", 'value="plan_survey_v2.schema.json"', "plan_survey_v2.schema.json"),
    ("vote_rule_not_allowed", lambda: replaced("""value='"at_least"'""", """value='"two_thirds_or_so"'"""),
     "tally_votes", 'id="vote_tally"', "quorum_comparison"),
]


def definition_count(web):
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        return session.scalar(select(func.count()).select_from(Definition))


def upload(client, xml, forms=FORMS):
    files = [(io.BytesIO(xml.encode("utf-8")), FILE)] + [(io.BytesIO(f.read_bytes()), f.name) for f in forms]
    return client.post("/admin/upload", {"files": files}, content_type="multipart/form-data")


def finding_rows(page):
    return re.findall(r'<tr class="finding (\w+)" data-element-id="([^"]*)" data-line="([^"]*)">(.*?)</tr>', page, re.S)


@pytest.fixture
def admin(as_user):
    """An administrator reading English (the findings' words below are English)."""
    client = as_user("admin")
    client.post("/lang", {"lang": "en"})
    client.get("/admin/upload")
    return client


@pytest.mark.parametrize("case, make, element_id, marker, words", CASES, ids=[c[0] for c in CASES])
def test_a_broken_diagram_is_refused_with_element_and_line(web, admin, case, make, element_id, marker, words):
    xml = make()
    response = upload(admin, xml)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    rows = [r for r in finding_rows(page) if r[0] == "error"]
    assert rows, page
    matching = [r for r in rows if r[1] == element_id]
    assert matching, rows
    severity, _id, line, cells = matching[0]
    assert int(line) == line_of(xml, marker)
    assert FILE in cells and words in cells
    assert definition_count(web) == 1


def test_truncated_xml_is_refused_with_its_line(web, admin):
    xml = edits.original()[:40_000]
    response = upload(admin, xml)
    rows = finding_rows(response.get_data(as_text=True))
    assert response.status_code == 422 and len(rows) == 1
    _severity, _id, line, cells = rows[0]
    assert "not well-formed" in cells and FILE in cells
    assert int(line) == xml.count("\n") + 1  # the parser ran out of text on the last line
    assert definition_count(web) == 1


def test_all_problems_are_listed_at_once(web, admin):
    xml = edits.original().replace('name="role" value="supervisor"', 'name="role" value="inspector"').replace('id="vote_tally"', 'id="vote_count"')
    rows = finding_rows(upload(admin, xml).get_data(as_text=True))
    assert {"lane_supervisor", "tally_votes"} <= {r[1] for r in rows}
    assert definition_count(web) == 1


def test_the_modeler_save_is_refused_the_same_way(web, admin):
    xml = CASES[6][1]()  # unknown topic
    response = admin.post("/admin/definitions/1/edit", {"bpmn_xml": xml}, headers={"Accept": "application/json"})
    assert response.status_code == 422 and response.json["ok"] is False
    [finding] = [f for f in response.json["findings"] if f["element_id"] == "tally_votes"]
    assert finding["line"] == line_of(xml, 'id="vote_count"') and finding["element_name"].startswith("计票")
    assert definition_count(web) == 1


def test_a_zip_with_the_diagram_and_its_forms_deploys(web, admin):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"process/{FILE}", edits.set_param(edits.original(), "tally_votes", "quorum_ratio", "1/2"))
        for form in FORMS:
            archive.writestr(f"process/forms/{form.name}", form.read_bytes())
    response = admin.post("/admin/upload", {"files": [(io.BytesIO(buffer.getvalue()), "process.zip")]},
                          content_type="multipart/form-data")
    assert response.status_code == 303 and definition_count(web) == 2
    refused = admin.post("/admin/upload", {"files": [(io.BytesIO(b"not a zip"), "process.zip")]},
                         content_type="multipart/form-data")
    assert refused.status_code == 422 and definition_count(web) == 2


def test_findings_are_in_chinese_for_a_chinese_administrator(web, as_user):
    client = as_user("admin")
    client.get("/admin/upload")
    xml = replaced('value="plan_survey.schema.json"', 'value="plan_survey_v2.schema.json"')
    rows = finding_rows(upload(client, xml).get_data(as_text=True))
    [cells] = [r[3] for r in rows if r[1] == "plan_survey"]
    assert "表单“plan_survey_v2.schema.json”不存在" in cells
    assert definition_count(web) == 1


def test_a_changed_diagram_uploaded_alone_keeps_the_forms_of_its_version(web, admin):
    xml = edits.set_param(edits.original(), "tally_votes", "pass_ratio", "2/3")
    response = upload(admin, xml, forms=[])
    assert response.status_code == 303, response.get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        old, new = session.scalars(select(Definition).order_by(Definition.version)).all()
        assert new.version == 2 and 'value="2/3"' in new.bpmn_xml
        assert new.forms == old.forms and len(new.forms) == len(FORMS)


def test_a_new_form_uploaded_with_the_diagram_replaces_the_deployed_one(web, admin):
    form = next(f for f in FORMS if f.name == "plan_survey.schema.json")
    schema = json.loads(form.read_text())
    schema["title"] = "调查计划（新）"
    changed = io.BytesIO(json.dumps(schema, ensure_ascii=False).encode("utf-8"))
    files = [(io.BytesIO(edits.original().encode("utf-8")), FILE), (changed, form.name)]
    response = admin.post("/admin/upload", {"files": files}, content_type="multipart/form-data")
    assert response.status_code == 303
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        new = session.scalars(select(Definition).order_by(Definition.version.desc())).first()
        assert new.version == 2 and new.forms[form.name]["title"] == "调查计划（新）"
        assert len(new.forms) == len(FORMS)
