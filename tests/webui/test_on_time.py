"""The project list shows, per step, how many tasks were done by their deadline and how many
open ones are past it, over the projects the person may see."""
from datetime import timedelta

from sqlalchemy import update

from engine.core.db import unit_of_work
from engine.core.models import Task, User, utcnow

from .conftest import ready_task, start_project
from .test_tasks import STEP1


def test_deadlines_kept_per_step_on_the_project_list(web, as_user):
    first = ready_task(web, start_project(web, "按时"))
    late = ready_task(web, start_project(web, "超期"))
    with unit_of_work(web.services.session_factory) as session:
        session.execute(update(Task).where(Task.id == late.id).values(due_at=utcnow() - timedelta(days=1)))
        web.services.runtime.complete_task(session, first.id, session.get(User, web.world.users.committee.id), {
            **STEP1, "screening_item_confirmed": True})
    page = as_user("committee").get("/instances").get_data(as_text=True)
    card = page.split('data-testid="on-time"')[1].split("</section>")[0]
    row = card.split('data-step="1">')[1].split("</tr>")[0]
    assert row.startswith("100%") and "<td class=\"num\">1</td><td class=\"num\">1</td>" in row.replace("\n", "")
    assert 'data-testid="on-time"' not in as_user("committee_b").get("/instances").get_data(as_text=True)
