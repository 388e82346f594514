"""The application as one living document: a revision opens the current version filled in,
every version is kept, and those who judge it see what changed, row by row."""
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Task, User
from engine.method import applications
from tests.drive import drive_to, voted_choices

from .conftest import Client, start_project


def login(web, username):
    client = Client(web.app)
    assert client.login(username).status_code == 302
    return client


def test_revising_opens_the_current_version_and_the_vote_page_shows_the_changes(web):
    instance_id = start_project(web, "象东社区银龄互助项目")
    choices = voted_choices(80000)
    rounds = iter(["revise"])
    choices["consultation_outcome"] = lambda: next(rounds, "mature")
    revise_id = drive_to(web.services, instance_id, "revise_application", choices)

    org = login(web, "orgstaff")
    form = org.get(f"/tasks/{revise_id}").get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        first = applications.versions(session, instance_id)[-1].data
    line = first["application_budget"][0]
    assert f'value="{first["application_title"]}"' in form  # filled in, not empty
    assert f'value="{line["item"]}"' in form and "application_budget.0.amount" in form
    assert "项目申请书（当前版本：第 1 版）" in form

    with unit_of_work(web.services.session_factory) as session:
        user = session.scalar(select(User).where(User.username == "orgstaff"))
        web.services.runtime.complete_task(session, revise_id, user, {
            "application_budget": [dict(line, amount=line["amount"] + 500), {"item": "意外保险", "amount": 200}],
            "application_budget_total": 82000, "revision_response": "已按恳谈会意见增加保险"})
    drive_to(web.services, instance_id, "cast_ballot", choices)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        ballot = session.scalar(select(Task).where(Task.instance_id == instance_id, Task.bpmn_id == "cast_ballot",
                                                   Task.state == "ready"))
        versions = applications.versions(session, instance_id)
    assert [v.number for v in versions] == [1, 2]
    assert versions[1].data["application_title"] == first["application_title"]  # kept, not retyped
    page = login(web, ballot.assignee).get(f"/tasks/{ballot.id}").get_data(as_text=True)
    assert "项目申请书（当前版本：第 2 版）" in page and "与第 1 版相比的修改" in page
    assert "¥82,000.00" in page and first["application_goals"] in page
    assert f"「{line['item']}」" in page and f"<del>{line['amount']}</del> → <ins>{line['amount'] + 500}</ins>" in page
    assert "新增一行：" in page and "意外保险" in page and "已按恳谈会意见增加保险" in page
    assert "application_title" not in page.split('data-testid="application-changes"')[1].split("</ul>")[0]
    record = login(web, "committee").get(f"/instances/{instance_id}/record").get_data(as_text=True)
    listed = record[record.index('data-testid="record-versions"'):record.index('data-testid="record-attachments"')]
    assert "第 1 版" in listed and "初版" in listed and "第 2 版" in listed
    assert "修改：" in listed and "预算明细" in listed and "已按恳谈会意见增加保险" in listed
    assert "项目目标" not in listed  # unchanged fields are not listed as changed
