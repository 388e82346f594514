"""A POST without the CSRF token changes nothing; what people type comes back escaped."""
from engine.core.db import unit_of_work
from engine.core.models import Task

from .conftest import ready_task, start_project


def test_post_without_csrf_token_is_refused_and_changes_nothing(web, as_user):
    instance_id = start_project(web)
    task = ready_task(web, instance_id)
    c = as_user("committee")
    for url in (f"/tasks/{task.id}/claim", f"/tasks/{task.id}/draft", f"/tasks/{task.id}/complete"):
        response = c.post(url, {"screening_service_scope": "x"}, csrf=False)
        assert response.status_code == 400
        response = c.post(url, {"csrf_token": "forged"}, csrf=False, htmx=True)
        assert response.status_code == 400
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        row = session.get(Task, task.id)
        assert (row.claimed_by, row.draft, row.state) == (None, None, "ready")


def test_login_without_csrf_token_is_refused(client):
    assert client.post("/login", {"username": "committee", "password": "x"}, csrf=False).status_code == 400


def test_script_in_a_form_value_comes_back_escaped(web, as_user):
    instance_id = start_project(web, title="<b>项目</b>")
    task = ready_task(web, instance_id)
    c = as_user("committee")
    evil = "<script>alert(1)</script>"
    c.post(f"/tasks/{task.id}/draft", {"screening_service_scope": evil})
    page = c.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>项目</b>" not in page and "&lt;b&gt;项目&lt;/b&gt;" in page
    inbox = c.get("/inbox").get_data(as_text=True)
    assert "<b>项目</b>" not in inbox
