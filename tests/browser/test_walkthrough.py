"""One social-work project through the whole method in Chromium, every role in Chinese,
each task opened from the inbox, filled and completed as people do: two revision rounds at
the consultation meeting, a failed vote the committee has redone (revised and discussed once
more) and that then passes, a
coordination meeting called during delivery, the supervisor's three supervisions, the
evaluation panel formed and scoring, and both payments made by the real workers in
between. Every task page is kept as a screenshot at 1,366 px (tests/artifacts/browser/walk_*.png),
the inbox, a ballot, a form with a table and the project page at 390 px too; none is wider
than its window."""
import re

import pytest
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Definition, Instance, Job, Organization, Task
from engine.method.models import Payment

from .conftest import ARTIFACTS, sign_in
from .test_notifications_and_layout import UNLABELLED, WIDTHS
from .test_seven_steps import FORMS, ROLE_USER, drain_jobs, fill

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MORE_FORMS = {
    "revise_application": {"revision_response": "已按恳谈会意见增加助餐内容并细化预算"},
    "decide_failed_vote": {"failed_vote_decision": "redo", "failed_vote_reason": "部分代表未充分了解项目，重新表决"},
    "supervise_before": {"supervision_before_result": "approve_with_advice", "supervision_before_opinion": "方案可行，注意志愿者培训",
                         "supervision_before_date": "2024-03-20"},
    "supervise_during": {"supervision_during_result": "on_track", "supervision_during_opinion": "服务按计划推进"},
    "supervise_after": {"supervision_after_result": "good", "supervision_after_opinion": "专业方法运用得当"},
    "coordination_meeting": {"coordination_date": "2024-07-01",
                             "coordination_parties": [{"name": "李阿姨", "role": "resident"},
                                                      {"name": "乐清社工服务中心", "role": "organization"}],
                             "coordination_issue": "活动场地噪音影响邻居休息",
                             "coordination_mediation": "调整活动时间至上午",
                             "coordination_outcome": "resolved"},
    "write_case_study": {"case_study_title": "银龄互助中的邻里守望", "case_study_text": "以一位独居老人为例，记录探访与陪伴的过程。"},
}


def wide(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def shot(page, name: str) -> None:
    """A full-page screenshot kept as walk_NAME_WIDTH.png; the page fits its window."""
    width = page.viewport_size["width"]
    page.evaluate("window.scrollTo(0, 0)")  # the sticky menu stays at the top of the picture
    page.screenshot(path=ARTIFACTS / f"walk_{name}_{width}.png", full_page=True)
    assert wide(page) <= width, f"{name} is {wide(page)}px wide at {width}px"


def test_one_social_work_project_through_the_whole_method(live, chromium):
    for old in ARTIFACTS.glob("walk_*.png"):  # the pictures show this run only
        old.unlink()
    contexts = {}

    def signed_in(username, width="desk"):
        if (username, width) not in contexts:
            contexts[username, width] = sign_in(chromium, live.url, username, *WIDTHS[width], login_says="登录")
        return contexts[username, width]

    with unit_of_work(live.services.session_factory) as session:  # the centre also works with young people
        centre = session.get(Organization, live.world.org.id)
        assert centre is not None
        centre.service_fields = ["elderly", "youth"]
    org = signed_in("orgstaff")
    org.goto(f"{live.url}/instances/new")
    org.select_option("#item", f"{live.world.org.id}:{live.world.sw_item.id}")
    org.fill("#title", "象东社区青少年社工项目")
    shot(org, "00_start_project")
    org.click('[data-testid="start"]')
    org.wait_for_url(re.compile(r".*/instances/\d+$"))
    instance_id = int(org.url.rsplit("/", 1)[1])
    drain_jobs(live)

    done: list[str] = []
    ballot_rounds = {"cast_ballot": 0}
    phone_shots: set[str] = set()
    for number in range(1, 90):
        with unit_of_work(live.services.session_factory, readonly=True) as session:
            task = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
                                   .order_by(Task.created_at, Task.id)).first()
            instance = session.get(Instance, instance_id)
            assert instance is not None
            stuck = session.scalars(select(Job.topic).where(Job.instance_id == instance_id,
                                                            Job.state.in_(("ready", "incident")))).all()
            definition = session.get(Definition, task.definition_id) if task else None
            schema = definition.forms.get(task.form_key, {}) if task and definition else None
        if task is None:
            assert instance.status == "completed", (instance.status, stuck, done)
            break
        name = task.bpmn_id
        data = dict(FORMS.get(name) or MORE_FORMS[name])
        if name == "consultation_meeting":
            data["consultation_outcome"] = "revise" if done.count(name) < 2 else "mature"
        if name == "cast_ballot":
            # The first round fails (everyone votes against), the redone round passes.
            data["ballot"] = "no" if "decide_failed_vote" not in done else "yes"
        if name == "report_progress":
            data["delivery_finished"] = done.count(name) >= 1
        username = task.assignee or ROLE_USER[task.role]

        if name == "report_progress" and "coordination_meeting" not in done and not any(
                d == "report_progress" for d in done):
            # A dispute during delivery: the committee calls a coordination meeting from the project page.
            committee = signed_in("committee")
            committee.goto(f"{live.url}/instances/{instance_id}")
            committee.fill('input[name="issue"]', "活动场地噪音影响邻居休息")
            shot(committee, f"{number:02d}_call_coordination")
            with committee.expect_navigation():
                committee.click('form[action$="/coordination"] button[type="submit"]')
            assert "协调会" in committee.content()
            drain_jobs(live)

        phone = (name == "cast_ballot" and "cast_ballot" not in phone_shots) or (
            name == "plan_survey" and "plan_survey" not in phone_shots)
        page = signed_in(username, "phone" if phone else "desk")
        page.goto(f"{live.url}/inbox")
        if phone and "inbox" not in phone_shots:
            shot(page, f"{number:02d}_inbox_{username}")
            phone_shots.add("inbox")
        page.click(f'a[href="/tasks/{task.id}"]')
        page.wait_for_url(re.compile(rf".*/tasks/{task.id}$"))
        if page.locator('[data-testid="claim"]').count():
            with page.expect_navigation():
                page.click('[data-testid="claim"]')
        fill(page, schema, data)
        assert page.evaluate(UNLABELLED) == [], name
        shot(page, f"{number:02d}_step{task.step}_{name}_{username}")
        if phone:  # the same task at the desk too, filled, before the phone sends it
            phone_shots.add(name)
            desk = signed_in(username)
            desk.goto(f"{live.url}/tasks/{task.id}")
            fill(desk, schema, data)
            shot(desk, f"{number:02d}_step{task.step}_{name}_{username}")
        with page.expect_navigation(url=re.compile(r".*/inbox.*")):
            page.click('[data-testid="complete"]')
        assert "已完成" in page.content(), page.locator(".flash.error, .field-error").all_inner_texts()
        assert "接下来" in page.content()
        done.append(name)
        if name == "cast_ballot":
            ballot_rounds["cast_ballot"] += 1
        drain_jobs(live)

    reps = len(live.world.users.reps)
    # Two rounds sent back by the meeting, then the redone vote goes through one more revision and meeting.
    assert done.count("consultation_meeting") == 4 and done.count("revise_application") == 3
    assert done.count("decide_failed_vote") == 1 and done.count("cast_ballot") == 2 * reps
    assert "coordination_meeting" in done
    assert {"supervise_before", "supervise_during", "supervise_after", "write_case_study"} <= set(done)
    assert "form_panel" in done and done.count("score_project") == 3
    assert {"inbox", "cast_ballot", "plan_survey"} <= phone_shots
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        instance = session.get(Instance, instance_id)
        assert instance is not None and "Accepted" in (instance.outcome or ""), instance
        payments = session.scalars(select(Payment).where(Payment.instance_id == instance_id)
                                   .order_by(Payment.installment)).all()
        assert [(p.installment, p.amount_fen) for p in payments] == [(1, 900_000), (2, 2_100_000)]
        assert all(p.job_id for p in payments)  # paid by the worker's job, not by hand

    for width in ("desk", "phone"):
        committee = signed_in("committee", width)
        committee.goto(f"{live.url}/instances/{instance_id}")
        committee.wait_for_selector('.diagram[data-ready="true"]')
        text = committee.content()
        assert "已完成" in text and "时间线" in text
        assert "已支付首期（签约后）款项" in text and "已支付尾款（验收后）款项" in text
        shot(committee, "99_project_completed")
        town = signed_in("town", width)  # the town reads the finished project in the mining dashboard
        town.goto(f"{live.url}/mining/")
        town.wait_for_selector('.heatmap[data-ready="true"]', timeout=20000)
        assert "各步骤用时" in town.content()
        shot(town, "99_mining")
    for page in contexts.values():
        page.context.close()
