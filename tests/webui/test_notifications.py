"""The notification centre: the bell's count on every page, the list in the reader's
language, opening one (read, then its task), mark all read, pages, follow a project."""
from sqlalchemy import select, update

from engine.core.db import unit_of_work
from engine.core.models import Notification, User

from .conftest import ready_task, start_project


def bell(page: str) -> str:
    return page.split('data-testid="bell"')[1].split("</a>")[0]


def test_a_new_task_rings_the_bell_and_opening_it_leads_to_the_task_and_marks_it_read(web, as_user):
    instance_id = start_project(web)
    task = ready_task(web, instance_id)
    c = as_user("committee")
    inbox = c.get("/inbox").get_data(as_text=True)
    assert 'data-testid="bell-count">1<' in bell(inbox) and "通知，1条未读" in bell(inbox)
    page = c.get("/notifications").get_data(as_text=True)
    assert "您的角色有新任务：“" in page and "New task" not in page
    [notice_id] = [n for n in _ids(web, "committee")]
    opened = c.post(f"/notifications/{notice_id}/open")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/tasks/{task.id}")
    assert "bell-count" not in bell(c.get("/inbox").get_data(as_text=True))
    # The same notification in English once the reader switches language.
    c.post("/lang", {"lang": "en", "next": "/notifications"})
    assert "A task for your role: “" in c.get("/notifications").get_data(as_text=True)


def test_nobody_reads_or_opens_another_persons_notification(web, as_user):
    start_project(web)
    [notice_id] = _ids(web, "committee")
    other = as_user("town")
    assert other.post(f"/notifications/{notice_id}/open").status_code == 404
    assert other.post(f"/notifications/{notice_id}/read").status_code == 404
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Notification, notice_id).read_at is None


def test_pages_of_twenty_mark_all_read_and_bad_page_numbers(web, as_user):
    with unit_of_work(web.services.session_factory) as session:
        session.add_all([Notification(username="committee", message=f"Meeting {i}") for i in range(25)])
    c = as_user("committee")
    first = c.get("/notifications").get_data(as_text=True)
    assert first.count('data-testid="notice"') == 20 and "第 1 / 2 页" in first and "Meeting 24" in first
    second = c.get("/notifications?page=2").get_data(as_text=True)
    assert second.count('data-testid="notice"') == 5 and "Meeting 0" in second
    for bad in ("abc", "0", "-3"):
        assert c.get(f"/notifications?page={bad}").status_code == 422
    response = c.post("/notifications/read-all")
    assert response.status_code == 302
    page = c.get("/notifications").get_data(as_text=True)
    assert "25 条通知已标为已读" in page and "bell-count" not in bell(page)
    assert 'data-testid="notice"' not in c.get("/notifications?show=unread").get_data(as_text=True)


def test_a_hand_over_names_the_colleague_and_a_followed_project_says_where_it_went(web, as_user):
    with unit_of_work(web.services.session_factory) as session:
        session.execute(update(User).where(User.username == "committee").values(display_name="陈美华"))
    instance_id = start_project(web)
    task = ready_task(web, instance_id)
    c = as_user("committee")
    assert c.post(f"/tasks/{task.id}/handover", {"to": "committee2"}).status_code == 302
    page = as_user("committee2").get("/notifications").get_data(as_text=True)
    assert "陈美华把任务“" in page and "交给了您" in page

    town = as_user("town")
    assert 'data-testid="follow"' in town.get(f"/instances/{instance_id}").get_data(as_text=True)
    town.post(f"/instances/{instance_id}/follow")
    assert 'data-testid="unfollow"' in town.get(f"/instances/{instance_id}").get_data(as_text=True)
    # Someone who cannot see the project cannot follow it.
    assert as_user("committee_b").post(f"/instances/{instance_id}/follow").status_code == 404


def _ids(web, username):
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        return list(session.scalars(select(Notification.id).where(Notification.username == username)
                                    .order_by(Notification.id)))
