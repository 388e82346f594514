"""The task page: a form from the JSON Schema, validation at each field, drafts, completing,
attachments, the diagram, and secret ballots."""
import html
import io
import re

from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Attachment, Task

from .conftest import ready_task, start_project

STEP1 = {
    "screening_item_confirmed": "1",
    "screening_service_scope": "为辖区内60岁以上独居老人提供居家养老服务",
    "screening_org_qualification": "已登记，具备社工资质",
    "screening_org_capacity": "strong",
}


def test_form_renders_each_widget_from_the_schema(web, as_user):
    task = ready_task(web, start_project(web))
    page = as_user("committee").get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'type="checkbox" name="screening_item_confirmed"' in page
    assert re.search(r'<textarea id="f-screening_service_scope" name="screening_service_scope"', page)
    assert '<option value="strong"' in page
    assert 'type="file"' in page and 'enctype="multipart/form-data"' in page
    assert 'data-bpmn-url="/instances/' in page and "confirm_catalog_item" in page


def test_missing_required_fields_are_shown_at_each_field_and_nothing_changes(web, as_user):
    task = ready_task(web, start_project(web))
    c = as_user("committee")
    response = c.post(f"/tasks/{task.id}/complete", {"screening_item_confirmed": "1", "screening_org_capacity": "strong"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    field = page.split('id="f-screening_service_scope"')[1].split("</div>")[0]
    assert "field-error" in field and "此项为必填项。" in field
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Task, task.id).state == "ready"


def test_a_draft_is_kept_and_completing_moves_the_project_on(web, as_user):
    instance_id = start_project(web)
    task = ready_task(web, instance_id)
    c = as_user("committee")
    response = c.post(f"/tasks/{task.id}/draft", {"screening_service_scope": "草稿内容"}, htmx=True)
    assert response.status_code == 200 and "草稿已保存" in response.get_data(as_text=True)
    assert "草稿内容" in c.get(f"/tasks/{task.id}").get_data(as_text=True)
    upload = {**STEP1, "screening_documents": (io.BytesIO("名单".encode()), "筛选名单.txt")}
    response = c.post(f"/tasks/{task.id}/complete", upload, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        row = session.get(Task, task.id)
        assert row.state == "completed" and row.completed_by == "committee"
        assert row.data["screening_item_confirmed"] is True
        attachment = session.scalars(select(Attachment)).one()
        assert attachment.filename == "筛选名单.txt" and row.data["screening_documents"].startswith("attachment:")
    download = c.get(f"/attachments/{attachment.id}")
    assert download.status_code == 200 and download.data == "名单".encode()
    assert as_user("committee_b").get(f"/attachments/{attachment.id}").status_code == 404
    # The submitted task is shown read-only; the instance page lists what happened.
    assert "为辖区内60岁以上独居老人" in c.get(f"/tasks/{task.id}").get_data(as_text=True)
    timeline = c.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "committee" in timeline and "确认转移事项" in timeline


def test_table_rows_and_money_are_typed(web):
    from werkzeug.datastructures import MultiDict

    from webui.forms import FormInput, build_fields

    with unit_of_work(web.services.session_factory, readonly=True) as session:
        from engine.core.deployments import latest_definition
        forms = latest_definition(session, "seven_step_project").forms
    schema = forms["write_application.schema.json"]
    form = MultiDict({
        "application_budget.0.item": "场地", "application_budget.0.amount": "1,200.50",
        "application_budget.3.item": "物资", "application_budget.3.amount": "abc",
        "application_budget_total": "¥12000", "application_phases.0.phase": "",
    })
    parsed = FormInput(form)
    data = parsed.parse(schema)
    assert data["application_budget"] == [{"item": "场地", "amount": 1200.5}, {"item": "物资", "amount": "abc"}]
    assert data["application_budget_total"] == 12000 and "application_phases" not in data
    assert list(parsed.errors) == ["application_budget.3.amount"]
    fields = build_fields(schema, data, {"application_budget.1.amount": ["bad"]})
    table = next(f for f in fields if f.path == "application_budget")
    assert [c.path for c in table.rows[1]] == ["application_budget.1.item", "application_budget.1.amount"]
    assert table.rows[1][1].errors == ["bad"]


def test_someone_elses_task_url_is_404(web, as_user):
    task = ready_task(web, start_project(web))
    for username in ("committee_b", "orgstaff", "town", "rep0", "admin"):
        c = as_user(username)
        assert c.get(f"/tasks/{task.id}").status_code == 404
        assert c.post(f"/tasks/{task.id}/claim").status_code == 404
        assert c.post(f"/tasks/{task.id}/complete", STEP1).status_code == 404
    assert as_user("committee").get("/tasks/no-such-task").status_code == 404


def test_a_file_sent_with_a_refused_form_is_kept_for_the_next_try(web, as_user):
    task = ready_task(web, start_project(web))
    c = as_user("committee")
    refused = c.post(f"/tasks/{task.id}/complete",
                     {"screening_item_confirmed": "1", "screening_documents": (io.BytesIO("名单".encode()), "筛选名单.txt")},
                     content_type="multipart/form-data")
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "筛选名单.txt" in page  # shown as already attached, not asked for again
    keep = re.search(r'name="screening_documents.__keep" value="([^"]+)"', page)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Task, task.id).state == "ready"  # the step itself changed nothing
        kept = session.scalars(select(Attachment)).one()
    # The second try sends the kept reference instead of the file.
    answer = {**STEP1, "screening_documents.__keep": html.unescape(keep.group(1))}
    response = c.post(f"/tasks/{task.id}/complete", answer)
    assert response.status_code == 302, response.get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        row = session.get(Task, task.id)
        assert row.state == "completed" and row.data["screening_documents"] == f"attachment:{kept.id}:筛选名单.txt"


def test_a_file_of_another_task_cannot_be_sent_back_as_kept(web, as_user):
    c = as_user("committee")
    first, second = ready_task(web, start_project(web, title="项目甲")), ready_task(web, start_project(web, title="项目乙"))
    c.post(f"/tasks/{first.id}/draft", {"screening_documents": (io.BytesIO(b"secret"), "甲的名单.txt")},
           content_type="multipart/form-data")
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        other = session.scalars(select(Attachment)).one()
    forged = {**STEP1, "screening_documents.__keep": f'"attachment:{other.id}:甲的名单.txt"'}
    response = c.post(f"/tasks/{second.id}/complete", forged)
    assert response.status_code == 422
    assert "这不是本任务的文件" in response.get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Task, second.id).state == "ready"


def test_a_file_over_the_limit_is_refused_at_its_field_and_the_form_is_kept(web, as_user):
    task = ready_task(web, start_project(web))
    c = as_user("committee")
    big = io.BytesIO(b"x" * (21 * 1024 * 1024))
    response = c.post(f"/tasks/{task.id}/complete", {**STEP1, "screening_documents": (big, "大文件.txt")},
                      content_type="multipart/form-data")
    response.request.environ["wsgi.input"].close()  # the test client spooled this body to a file
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    field = page.split('id="f-screening_documents"')[1].split("</div>")[0]
    assert "field-error" in field and "文件超过 20 MB。" in field
    assert "为辖区内60岁以上独居老人" in page  # what was typed is still there
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Task, task.id).state == "ready" and session.scalars(select(Attachment)).all() == []
