"""After a completion the page says where the project went; people's words instead of
keys (display names, the process version, 放回待认领); the favicon."""
from sqlalchemy import update

from engine.core.db import unit_of_work
from engine.core.models import User
from tests.drive import work

from .conftest import ready_task, start_project
from .test_tasks import STEP1


def test_completing_says_which_automatic_check_runs_then_who_has_the_project(web, as_user):
    instance_id = start_project(web)
    task = ready_task(web, instance_id)
    c = as_user("committee")
    response = c.post(f"/tasks/{task.id}/complete", STEP1)
    assert response.status_code == 302
    page = c.get(response.headers["Location"]).get_data(as_text=True)
    assert "接下来：系统自动审查进行中：资格审查。" in page

    work(web.services)  # the eligibility check runs; the town approves next
    with unit_of_work(web.services.session_factory) as session:
        session.execute(update(User).where(User.username == "town").values(display_name="柳市镇 李建国"))
    approve = ready_task(web, instance_id, "approve_qualification")
    town = as_user("town")
    town.post(f"/tasks/{approve.id}/claim")
    shown = town.get(f"/tasks/{approve.id}").get_data(as_text=True)
    assert "放回待认领" in shown and "退回" not in shown.split('data-testid="unclaim"')[1].split("</button>")[0]
    released = town.post(f"/tasks/{approve.id}/unclaim")
    assert "任务已放回待认领" in town.get(released.headers["Location"]).get_data(as_text=True)


def test_a_hand_over_names_the_colleague_by_display_name(web, as_user):
    instance_id = start_project(web)
    task = ready_task(web, instance_id)
    with unit_of_work(web.services.session_factory) as session:
        session.execute(update(User).where(User.username == "committee2").values(display_name="王丽华"))
    c = as_user("committee")
    response = c.post(f"/tasks/{task.id}/handover", {"to": "committee2"})
    assert "任务已移交给 王丽华。" in c.get(response.headers["Location"]).get_data(as_text=True)


def test_the_project_page_names_the_process_version_and_the_favicon_is_served(web, as_user):
    instance_id = start_project(web)
    page = as_user("committee").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "三社联动七步工作法 第1版" in page and "seven_step_project v1" not in page
    with web.app.test_client().get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"
