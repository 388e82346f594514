"""The inbox: tabs, counts per step, filters, paging, claim / release / hand over, overdue."""
import uuid
from datetime import timedelta

from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Event, Task, utcnow

from .conftest import ready_task, start_project


def add_tasks(web, instance_id, count, step=1, **fields):
    """Inbox rows written directly (the runtime's shape), for paging and counting."""
    now = utcnow()
    with unit_of_work(web.services.session_factory) as session:
        base = session.get(Task, ready_task(web, instance_id).id)
        for i in range(count):
            session.add(Task(
                id=str(uuid.uuid4()), instance_id=instance_id, definition_id=base.definition_id, bpmn_id="extra",
                name=f"附加任务 {i:03d}", role=base.role, step=step, scope_type=base.scope_type, scope_id=base.scope_id,
                town_id=base.town_id, community_id=base.community_id, organization_id=base.organization_id,
                state="ready", created_at=now - timedelta(minutes=count - i), **fields))


def test_open_tab_lists_the_lanes_task_with_counts_per_step(web, as_user):
    instance_id = start_project(web)
    page = as_user("committee").get("/inbox").get_data(as_text=True)
    assert "确认转移事项并筛选社会组织" in page
    assert 'data-step="1">1 <span class="count">1</span>' in page
    assert "居家养老服务项目" not in as_user("committee_b").get("/inbox").get_data(as_text=True)
    assert ready_task(web, instance_id).step == 1


def test_filters_sorting_and_pages(web, as_user):
    instance_id = start_project(web)
    add_tasks(web, instance_id, 30, step=3)
    c = as_user("committee")
    page = c.get("/inbox?step=3&sort=oldest").get_data(as_text=True)
    assert "附加任务 000" in page and "附加任务 029" not in page and "确认转移事项" not in page
    assert "附加任务 029" in c.get("/inbox?step=3&sort=oldest&page=2").get_data(as_text=True)
    newest = c.get("/inbox?sort=newest").get_data(as_text=True)
    assert newest.index("确认转移事项") < newest.index("附加任务 029")
    assert 'data-step="3">3 <span class="count">30</span>' in newest
    assert "附加任务" not in c.get(f"/inbox?community={web.world.community_b.id}").get_data(as_text=True)
    assert "附加任务" not in c.get("/inbox?process=other_process").get_data(as_text=True)
    htmx = c.get("/inbox?step=3", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in htmx and "附加任务" in htmx
    assert c.get("/inbox?step=9").status_code == 422
    assert c.get("/inbox?page=abc").status_code == 422


def test_claim_release_and_hand_over_are_recorded(web, as_user):
    instance_id = start_project(web)
    task = ready_task(web, instance_id)
    c = as_user("committee")
    assert c.post(f"/tasks/{task.id}/claim", {"next": "inbox"}).status_code == 302
    # Claiming a task one already holds changes nothing and is no error.
    assert c.post(f"/tasks/{task.id}/claim", {"next": "inbox"}).status_code == 302
    mine = c.get("/inbox?view=mine").get_data(as_text=True)
    assert "确认转移事项" in mine
    response = c.post(f"/tasks/{task.id}/unclaim", htmx=True)
    assert response.status_code == 204 and response.headers["HX-Refresh"] == "true"
    assert "确认转移事项" not in c.get("/inbox?view=mine").get_data(as_text=True)
    c.post(f"/tasks/{task.id}/claim")
    assert c.post(f"/tasks/{task.id}/handover", {"to": "committee2"}).status_code == 302
    assert "确认转移事项" in as_user("committee2").get("/inbox?view=mine").get_data(as_text=True)
    # Only a member of the same role and scope can take it over.
    refused = as_user("committee2").post(f"/tasks/{task.id}/handover", {"to": "committee_b"})
    assert refused.status_code == 422
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Task, task.id).claimed_by == "committee2"
        resources = session.scalars(select(Event.resource).where(
            Event.task_id == task.id, Event.transition == "assign").order_by(Event.id)).all()
        assert resources == ["committee"] * 5  # claim, claim again, release, claim, hand over


def test_claimed_by_someone_else_cannot_be_claimed_again(web, as_user):
    task = ready_task(web, start_project(web))
    as_user("committee").post(f"/tasks/{task.id}/claim")
    other = as_user("committee2")
    response = other.post(f"/tasks/{task.id}/claim", htmx=True)
    assert response.status_code == 409
    # The engine's message, in the interface's language, with the name put in.
    assert "该任务已由 committee 认领。" in response.get_data(as_text=True)
    other.post("/lang", {"lang": "en"})
    response = other.post(f"/tasks/{task.id}/claim", htmx=True)
    assert "This task is already claimed by committee." in response.get_data(as_text=True)


def test_overdue_tasks_are_marked(web, as_user):
    task = ready_task(web, start_project(web))
    with unit_of_work(web.services.session_factory) as session:
        session.get(Task, task.id).due_at = utcnow() - timedelta(days=2)
    page = as_user("committee").get("/inbox").get_data(as_text=True)
    assert 'class="overdue"' in page and "已逾期" in page


def test_due_date_sort_puts_undated_tasks_last_and_step_sort_goes_by_step(web, as_user):
    instance_id = start_project(web)
    now = utcnow()
    with unit_of_work(web.services.session_factory) as session:
        base = session.get(Task, ready_task(web, instance_id).id)
        base.due_at = now + timedelta(days=3)
        for name, step, due, age in [("due-late", 2, 5, 0), ("due-soon", 6, 1, 0), ("undated-new", 4, None, 0),
                                     ("undated-old", 3, None, 60)]:
            session.add(Task(
                id=str(uuid.uuid4()), instance_id=instance_id, definition_id=base.definition_id, bpmn_id="extra",
                name=name, role=base.role, step=step, scope_type=base.scope_type, scope_id=base.scope_id,
                town_id=base.town_id, community_id=base.community_id, organization_id=base.organization_id,
                state="ready", due_at=None if due is None else now + timedelta(days=due),
                created_at=now - timedelta(minutes=age)))
    c = as_user("committee")

    def names(url):
        page = c.get(url).get_data(as_text=True)
        found = [(page.index(n), n) for n in ("due-late", "due-soon", "undated-new", "undated-old") if n in page]
        return [n for _, n in sorted(found)]

    assert names("/inbox?sort=due") == ["due-soon", "due-late", "undated-new", "undated-old"]
    # Pages cut the same order: due-soon, the project's task | due-late, undated-new | undated-old.
    assert names("/inbox?sort=due&per_page=2&page=2") == ["due-late", "undated-new"]
    assert names("/inbox?sort=due&per_page=2&page=3") == ["undated-old"]
    assert names("/inbox?sort=step") == ["due-late", "undated-old", "undated-new", "due-soon"]
    first = c.get("/inbox?sort=step&per_page=2").get_data(as_text=True)
    assert "确认转移事项" in first and "due-late" in first and "undated-old" not in first  # steps 1 and 2


def test_next_links_continue_where_the_page_ended_in_every_sort(web, as_user):
    import html
    import re

    instance_id = start_project(web)
    now = utcnow()
    with unit_of_work(web.services.session_factory) as session:
        base = session.get(Task, ready_task(web, instance_id).id)
        for i in range(23):  # same creation times in pairs, some without due date or step
            session.add(Task(
                id=str(uuid.uuid4()), instance_id=instance_id, definition_id=base.definition_id, bpmn_id="extra",
                name=f"row-{i:02d}", role=base.role, step=None if i % 11 == 0 else 1 + i % 7, scope_type=base.scope_type,
                scope_id=base.scope_id, town_id=base.town_id, community_id=base.community_id,
                organization_id=base.organization_id, state="ready", created_at=now - timedelta(minutes=i // 2),
                due_at=None if i % 3 == 0 else now + timedelta(days=i % 5)))
    c = as_user("committee")
    rows = re.compile(r"row-\d\d")
    for sort in ("newest", "oldest", "due", "step"):
        by_offset = [rows.findall(c.get(f"/inbox?sort={sort}&per_page=4&page={n}").get_data(as_text=True))
                     for n in range(1, 7)]  # 24 tasks with the project's own
        url, by_cursor = f"/inbox?sort={sort}&per_page=4", []
        while url:
            page = c.get(url).get_data(as_text=True)
            by_cursor.append(rows.findall(page))
            found = re.search(r'href="([^"]+)" rel="next"', page)
            url = html.unescape(found.group(1)) if found else None
        assert "after=" in html.unescape(re.search(r'href="([^"]+)" rel="next"', c.get(
            f"/inbox?sort={sort}&per_page=4").get_data(as_text=True)).group(1))
        assert by_cursor == by_offset and sum(len(r) for r in by_cursor) == 23, sort
    assert c.get("/inbox?after=nonsense").status_code == 422
