"""In Chromium, in Chinese: a consultation meeting sends the application back for a revision
round, the organization revises it, the representatives' vote fails, the committee has it
voted again and it passes; each completion says what happens next and the representatives
read both announcements in their notification centre. Other tasks are done by the engine
with the real workers in between."""
import re

import pytest
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Definition, Notification, Task
from tests.drive import drive_to, voted_choices, work

from .conftest import ARTIFACTS, sign_in
from .test_notifications_and_layout import UNLABELLED, WIDTHS, fits, start
from .test_seven_steps import FORMS, fill

pytestmark = pytest.mark.browser


def complete_in_browser(live, page, task_id, data):
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        task = session.get(Task, task_id)
        schema = session.get(Definition, task.definition_id).forms.get(task.form_key, {})
    page.goto(f"{live.url}/tasks/{task_id}")
    if page.locator('[data-testid="claim"]').count():
        page.click('[data-testid="claim"]')
    fill(page, schema, data)
    assert page.evaluate(UNLABELLED) == []
    with page.expect_navigation(url=re.compile(r".*/inbox.*")):
        page.click('[data-testid="complete"]')
    return page.locator(".flash").all_inner_texts()


def test_a_revision_round_then_a_failed_vote_done_again(live, chromium):
    instance_id = start(live, "两轮修改与重新表决")
    meeting = drive_to(live.services, instance_id, "consultation_meeting", voted_choices())
    committee = sign_in(chromium, live.url, "committee", *WIDTHS["desk"])
    said = complete_in_browser(live, committee, meeting, {**FORMS["consultation_meeting"],
                                                          "consultation_outcome": "revise"})
    assert any("接下来：" in s and "修改" in s for s in said), said

    revise = drive_to(live.services, instance_id, "revise_application", voted_choices())
    org = sign_in(chromium, live.url, "orgstaff", *WIDTHS["phone"])
    said = complete_in_browser(live, org, revise, {"revision_response": "已按恳谈会意见增加助餐内容"})
    assert any("接下来：" in s for s in said), said
    fits(org, "revised", "phone")

    against = voted_choices()
    against["ballot"] = "no"
    drive_to(live.services, instance_id, "cast_ballot", against)
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        ballot = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready",
                                                    Task.bpmn_id == "cast_ballot").order_by(Task.assignee)).first()
    voter = sign_in(chromium, live.url, ballot.assignee, *WIDTHS["phone"])
    complete_in_browser(live, voter, ballot.id, {"ballot": "no"})
    decide = drive_to(live.services, instance_id, "decide_failed_vote", against)
    voter.goto(f"{live.url}/notifications")
    assert "第1轮表决" in voter.content() and "表决未通过" in voter.content()

    said = complete_in_browser(live, committee, decide, {"failed_vote_decision": "redo",
                                                         "failed_vote_reason": "部分代表未充分了解项目，重新表决"})
    assert any("接下来：" in s for s in said), said
    drive_to(live.services, instance_id, "approve_application", voted_choices())
    work(live.services)
    voter.goto(f"{live.url}/notifications")
    page = voter.content()
    assert "第2轮表决" in page and "表决通过" in page
    fits(voter, "vote_results", "phone")
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        rounds = session.scalars(select(Notification.params).where(Notification.username == ballot.assignee,
                                                                   Notification.kind == "vote_result")).all()
    assert sorted(p["round"] for p in rounds) == [1, 2]
    committee.screenshot(path=ARTIFACTS / "notify_revision_committee_1366.png", full_page=True)
    for page in (committee, org, voter):
        page.context.close()


def test_a_representative_votes_on_a_phone_and_hears_what_happens_next(live, chromium):
    instance_id = start(live, "手机投票")
    drive_to(live.services, instance_id, "cast_ballot", voted_choices())
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        ballot = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready",
                                                    Task.bpmn_id == "cast_ballot").order_by(Task.assignee)).first()
    page = sign_in(chromium, live.url, ballot.assignee, *WIDTHS["phone"])
    page.locator('[data-testid="bell"]').click()
    assert "有一项交给您本人的任务" in page.content()
    page.locator('[data-testid="notice"] .notice-open button').first.click()
    page.wait_for_url(re.compile(r".*/tasks/.+"))
    assert page.evaluate(UNLABELLED) == []
    fits(page, "ballot", "phone")
    page.select_option('[name="ballot"]', "yes")
    with page.expect_navigation(url=re.compile(r".*/inbox.*")):
        page.click('[data-testid="complete"]')
    assert "接下来：" in page.content() and "各自办理“投票”" in page.content()
    fits(page, "ballot_done", "phone")
    page.context.close()
