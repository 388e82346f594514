"""The administrators' area: who may enter, versions, diagrams, forms, people, incidents."""
import json
import re

import pytest
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import AuditEntry, Definition, Job, User, utcnow
from tests import diagram_edits as edits

from .conftest import PASSWORD, start_project

PAGES = ["/admin/", "/admin/upload", "/admin/users", "/admin/incidents", "/admin/audit",
         "/admin/definitions/1", "/admin/definitions/1/edit", "/admin/definitions/1/diagram.bpmn",
         "/admin/definitions/1/forms/cast_ballot.schema.json"]


def definitions(web):
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        return [(d.id, d.version) for d in session.scalars(select(Definition).order_by(Definition.id))]


@pytest.mark.parametrize("username", ["committee", "town", "orgstaff", "rep0", "supervisor"])
def test_only_administrators_enter(as_user, username):
    client = as_user(username)
    for page in PAGES:
        assert client.get(page).status_code == 403, page
    assert client.post("/admin/upload", {}).status_code == 403
    assert "/admin/" not in client.get("/inbox").get_data(as_text=True)  # no link either


def test_signed_out_people_are_sent_to_sign_in(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_every_page_opens_for_an_administrator(as_user):
    admin = as_user("admin")
    for page in PAGES:
        assert admin.get(page).status_code == 200, page
    assert "/admin/" in admin.get("/inbox").get_data(as_text=True)


def test_the_diagram_and_form_pages_name_the_process_and_its_version_in_words(as_user):
    admin = as_user("admin")
    for page in ["/admin/definitions/1/edit", "/admin/definitions/1/forms/cast_ballot.schema.json"]:
        crumbs = re.search(r'<p class="crumbs">(.*?)</p>', admin.get(page).get_data(as_text=True), re.S).group(1)
        assert "三社联动七步工作法 第1版" in crumbs and "seven_step_project" not in crumbs, page


def test_versions_list_who_when_hash_and_running_instances(web, as_user):
    start_project(web)
    start_project(web, title="第二个项目")
    admin = as_user("admin")
    page = admin.get("/admin/").get_data(as_text=True)
    row = re.search(r'<tr data-version="1">(.*?)</tr>', page, re.S).group(1)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        definition = session.scalars(select(Definition)).one()
    assert "admin" in row and definition.content_hash[:12] in row and 'data-running="2"' in row


def test_download_and_view_a_version(as_user):
    admin = as_user("admin")
    response = admin.get("/admin/definitions/1/diagram.bpmn?download=1")
    assert response.headers["Content-Disposition"] == 'attachment; filename="seven_step_project-v1.bpmn"'
    assert response.get_data(as_text=True) == edits.original()
    page = admin.get("/admin/definitions/1").get_data(as_text=True)
    assert 'data-bpmn-url="/admin/definitions/1/diagram.bpmn"' in page and "cast_ballot.schema.json" in page
    form = admin.get("/admin/definitions/1/form-files/cast_ballot.schema.json")
    assert json.loads(form.get_data(as_text=True))["properties"]["ballot"]["enum"][:2] == ["yes", "no"]


def test_saving_needs_the_csrf_token(web, as_user):
    admin = as_user("admin")
    response = admin.post("/admin/definitions/1/edit", {"bpmn_xml": edits.original()}, csrf=False)
    assert response.status_code == 400 and definitions(web) == [(1, 1)]


def test_saving_the_same_diagram_deploys_nothing(web, as_user):
    admin = as_user("admin")
    response = admin.post("/admin/definitions/1/edit", {"bpmn_xml": edits.original()},
                          headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.json["created"] is False and definitions(web) == [(1, 1)]


def test_form_preview_renders_the_schema_as_people_see_it(as_user):
    admin = as_user("admin")
    admin.get("/admin/definitions/1/forms/cast_ballot.schema.json")
    schema = dict(edits.NEW_FORM_SCHEMA)
    preview = admin.post("/admin/forms/preview", {"schema": json.dumps(schema)}, htmx=True).get_data(as_text=True)
    assert 'name="town_budget_ceiling"' in preview and "预算上限" in preview
    broken = admin.post("/admin/forms/preview", {"schema": '{"type": "object",\n "properties": {'}, htmx=True)
    assert "Line 2" in broken.get_data(as_text=True) or "第 2" in broken.get_data(as_text=True)


def test_a_form_edited_in_the_browser_becomes_a_new_version(web, as_user):
    admin = as_user("admin")
    admin.get("/admin/definitions/1/forms/cast_ballot.schema.json")
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        schema = session.get(Definition, 1).forms["cast_ballot.schema.json"]
    schema["properties"]["ballot_remark"] = {"type": "string", "title": "备注"}
    response = admin.post("/admin/definitions/1/forms/cast_ballot.schema.json", {"schema": json.dumps(schema)})
    assert response.status_code == 303 and definitions(web) == [(1, 1), (2, 2)]
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert "ballot_remark" in session.get(Definition, 2).forms["cast_ballot.schema.json"]["properties"]
    refused = admin.post("/admin/definitions/2/forms/cast_ballot.schema.json", {"schema": '{"type": "object",'})
    assert refused.status_code == 422 and "cast_ballot.schema.json" in refused.get_data(as_text=True)
    assert definitions(web) == [(1, 1), (2, 2)]


def test_diff_page_names_what_changed(web, as_user):
    admin = as_user("admin")
    admin.get("/admin/definitions/1/edit")
    xml = edits.set_param(edits.original(), "tally_votes", "pass_ratio", "2/3")
    assert admin.post("/admin/definitions/1/edit", {"bpmn_xml": xml}).status_code == 303
    page = admin.get("/admin/diff?old=1&new=2").get_data(as_text=True)
    changed = re.search(r'data-testid="diff-changed"(.*?)</section>', page, re.S).group(1)
    assert "tally_votes" in changed and "pass_ratio" in changed and "1/2" in changed and "2/3" in changed
    assert 'data-testid="diff-added"' not in page
    words = re.sub(r"<[^>]+>", " ", changed)  # what is read: the parameter by its name, no XML
    assert "通过：赞成票占到会人数的比例" in words and "value=" not in words and "serviceTaskOperator" not in words


def test_people_roles_and_deactivation(web, as_user):
    admin = as_user("admin")
    admin.get("/admin/users")
    response = admin.post("/admin/users", {"username": "newtown", "password": PASSWORD, "display_name": "新人"})
    assert response.status_code == 303
    user_id = int(response.headers["Location"].rsplit("/", 1)[1])
    admin.get(f"/admin/users/{user_id}")
    wrong = admin.post(f"/admin/users/{user_id}/grant", {"role": "town_government", "scope": f"community:{web.world.community.id}"})
    assert wrong.status_code == 422
    assert admin.post(f"/admin/users/{user_id}/grant",
                      {"role": "town_government", "scope": f"town:{web.world.town.id}"}).status_code == 303
    newcomer = as_user("newtown")
    instance_id = start_project(web)
    assert newcomer.get(f"/instances/{instance_id}").status_code == 200  # the town's project is visible
    assert admin.post(f"/admin/users/{user_id}/deactivate").status_code == 303
    assert newcomer.get("/inbox").status_code in (302, 401)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert session.scalar(select(User.active).where(User.username == "newtown")) is False
    assert actions[-3:] == ["user_create", "role_grant", "user_deactivate"]
    assert "role_grant" in admin.get("/admin/audit").get_data(as_text=True)


def test_an_incident_is_shown_and_retried(web, as_user):
    instance_id = start_project(web)
    with unit_of_work(web.services.session_factory) as session:
        job = Job(instance_id=instance_id, task_id="00000000-0000-0000-0000-00000000abcd", bpmn_id="check_eligibility",
                  name="资格审查", topic="eligibility_check", variables={}, state="incident", retries=0, attempts=3,
                  error_message="ConnectionError: registry offline", error_details="Traceback ...", run_after=utcnow())
        session.add(job)
        session.flush()
        job_id = job.id
    admin = as_user("admin")
    page = admin.get("/admin/incidents").get_data(as_text=True)
    assert f'data-job="{job_id}"' in page and "registry offline" in page
    assert "“资格审查”：自动处理已失败 3 次" in page  # in Chinese, the technical message under details
    assert admin.post(f"/admin/incidents/{job_id}/retry").status_code == 303
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        job = session.get(Job, job_id)
        assert job.state == "ready" and job.retries > 0
        assert session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "incident_retry")).one() == "admin"
    assert f'data-job="{job_id}"' not in admin.get("/admin/incidents").get_data(as_text=True)


def test_a_timer_incident_is_shown_on_the_project_and_in_the_list_and_retried(web, as_user):
    from engine.core.models import Timer
    instance_id = start_project(web)
    with unit_of_work(web.services.session_factory) as session:
        timer = Timer(instance_id=instance_id, task_id="00000000-0000-0000-0000-00000000beef", bpmn_id="deadline",
                      due_at=utcnow(), state="incident", error_message="KeyError: 'deadline'")
        session.add(timer)
        session.flush()
        timer_id = timer.id
    project = as_user("orgstaff").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert 'data-testid="incidents"' in project and "KeyError: &#39;deadline&#39;" in project
    assert "因错误停止" in project
    admin = as_user("admin")
    page = admin.get("/admin/incidents").get_data(as_text=True)
    assert f'data-timer="{timer_id}"' in page
    assert admin.post(f"/admin/incidents/timers/{timer_id}/retry").status_code == 303
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert (session.get(Timer, timer_id).state, session.get(Timer, timer_id).error_message) == ("waiting", None)
    assert f'data-timer="{timer_id}"' not in admin.get("/admin/incidents").get_data(as_text=True)
    assert 'data-testid="incidents"' not in admin.get(f"/instances/{instance_id}").get_data(as_text=True)
    # Retrying it again is refused with a clear message, not an error page.
    assert admin.post(f"/admin/incidents/timers/{timer_id}/retry").status_code == 409
