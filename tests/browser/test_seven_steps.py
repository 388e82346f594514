"""One project through all seven steps in the browser, in Chinese: each role signs in in
turn, opens the task from the inbox, fills the form rendered from the diagram's JSON Schema
and completes it; the real worker handlers do the service tasks in between."""
import re

import pytest
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Definition, Instance, Job, Task
from webui.forms import widget_of
from workers.registry import TOPICS
from workers.worker import run_workers

from .conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser

ROLE_USER = {"community_committee": "committee", "town_government": "town", "social_organization": "orgstaff",
             "supervisor": "supervisor", "resident_representative": "rep0", "evaluation_panel": "panel0"}
FORMS = {
    "confirm_catalog_item": {"screening_item_confirmed": True, "screening_service_scope": "为象东社区独居老人提供居家养老服务",
                             "screening_org_qualification": "登记三年，有持证社工五名", "screening_org_capacity": "strong"},
    "approve_qualification": {"town_qualification_decision": "approve", "town_qualification_comments": "同意",
                              "town_qualification_date": "2024-03-01"},
    "plan_survey": {"survey_plan": "入户问卷与座谈", "survey_method": "questionnaire", "survey_respondents": 120,
                    "survey_findings": [{"topic": "陪伴", "finding": "独居老人需要定期探访", "share": 62.5},
                                        {"topic": "助餐", "finding": "行动不便老人需要送餐", "share": 30}]},
    "write_application": {
        "application_title": "银龄互助", "application_background": "象东社区老龄化程度高",
        "application_significance": "互助养老，邻里守望", "application_findings_summary": "独居老人需要陪伴",
        "application_service_field": "elderly", "application_goals": "每周探访独居老人",
        "application_expected_effect": "老人孤独感下降",
        "application_phases": [{"phase": "筹备", "start": "2024-03-01", "end": "2024-03-31", "activities": "招募志愿者"}],
        "application_budget": [{"item": "志愿者培训", "amount": 8000}, {"item": "探访活动", "amount": 22000}],
        "application_budget_total": 30000, "application_document": ("申请书.txt", "银龄互助项目申请书".encode())},
    "consultation_meeting": {"consultation_date": "2024-04-01", "consultation_presenter": "项目负责人",
                             "consultation_participants": [{"name": "王大爷", "category": "resident"}],
                             "consultation_suggestions": "增加助餐内容", "consultation_outcome": "mature"},
    "cast_ballot": {"ballot": "yes"},
    "approve_application": {"town_application_decision": "approve", "town_application_comments": "同意立项"},
    "purchase_decision": {"purchase_buy": True, "purchase_amount": 30000, "purchase_first_installment": 9000,
                          "purchase_final_installment": 21000, "purchase_funding_source": "福彩公益金",
                          "purchase_acceptance_criteria": ["探访 500 人次", "满意度 90% 以上"]},
    "sign_purchaser": {"purchaser_signatory": "镇长", "purchaser_sign_date": "2024-05-01", "purchaser_agrees": True},
    "sign_contractor": {"contractor_signatory": "理事长", "contractor_sign_date": "2024-05-02", "contractor_agrees": True},
    "report_progress": {"progress_period": "2024年5月至10月", "progress_activities": "每周探访", "progress_beneficiaries": 86,
                        "progress_spent": 28500.5, "delivery_finished": True},
    "self_evaluation": {"self_evaluation_summary": "目标全部完成", "self_evaluation_goals_met": "fully",
                        "self_evaluation_beneficiaries": 86},
    "form_panel": {"panel_members": ["panel0", "panel1", "panel2"], "panel_method": "评议会议",
                   "panel_member_categories": [{"username": "panel0", "category": "expert"}]},
    "score_project": {"panel_score": 90, "panel_comments": "成效明显"},
}


def fill(page, schema, data, prefix=""):
    """Type ``data`` into the form the way a person does, widget by widget."""
    for name, value in data.items():
        prop = schema["properties"][name]
        path = f"{prefix}{name}"
        selector = f'[name="{path}"]'
        widget = widget_of(prop)
        if widget == "checkbox":
            page.set_checked(selector, bool(value))
        elif widget == "select":
            page.select_option(selector, str(value))
        elif widget == "table":
            for index, row in enumerate(value):
                page.click(f'[data-rows="{path}"] [data-add-row]')
                fill(page, prop["items"], row, f"{path}.{index}.")
        elif prop.get("x-choices") and prop.get("type") == "array":  # people ticked in the list the page offers
            for choice in value:
                page.check(f'{selector}[value="{choice}"]')
        elif prop.get("x-choices"):  # one person picked from a list (e.g. in a table's row)
            page.select_option(selector, str(value))
        elif widget == "lines":
            page.fill(selector, "\n".join(value))
        elif widget == "file":
            filename, content = value
            page.set_input_files(selector, files=[{"name": filename, "mimeType": "text/plain", "buffer": content}])
        else:
            page.fill(selector, str(value))


def drain_jobs(live):
    run_workers(live.services, TOPICS, until_idle=True, install_signals=False, poll_seconds=0.05)


def test_one_project_through_all_seven_steps_in_chinese(live, chromium):
    pages = {}

    def signed_in(username):
        if username not in pages:
            pages[username] = sign_in(chromium, live.url, username, 1360, login_says="登录")
        return pages[username]

    org = signed_in("orgstaff")
    org.goto(f"{live.url}/instances/new")
    org.select_option("#item", f"{live.world.org.id}:{live.world.item.id}")
    org.fill("#title", "象东社区银龄互助项目")
    org.screenshot(path=ARTIFACTS / "00_start_project.png", full_page=True)
    org.click('[data-testid="start"]')
    org.wait_for_url(re.compile(r".*/instances/\d+$"))
    instance_id = int(org.url.rsplit("/", 1)[1])
    drain_jobs(live)

    done, steps_seen = [], set()
    for number in range(1, 80):
        with unit_of_work(live.services.session_factory, readonly=True) as session:
            task = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
                                   .order_by(Task.created_at, Task.id)).first()
            instance = session.get(Instance, instance_id)
            stuck = session.scalars(select(Job.topic).where(Job.instance_id == instance_id,
                                                            Job.state.in_(("ready", "incident")))).all()
            schema = session.get(Definition, task.definition_id).forms.get(task.form_key, {}) if task else None
        if task is None:
            assert instance.status == "completed", (instance.status, stuck, done)
            break
        username = task.assignee or ROLE_USER[task.role]
        page = signed_in(username)
        page.goto(f"{live.url}/inbox")
        page.click(f'a[href="/tasks/{task.id}"]')
        if page.locator('[data-testid="claim"]').count():
            page.click('[data-testid="claim"]')
        fill(page, schema, FORMS[task.bpmn_id])
        page.screenshot(path=ARTIFACTS / f"{number:02d}_step{task.step}_{task.bpmn_id}_{username}.png", full_page=True)
        page.click('[data-testid="complete"]')
        page.wait_for_load_state()
        assert "/inbox" in page.url, page.locator(".flash.error, .field-error").all_inner_texts()
        assert "已完成" in page.content()
        done.append(task.bpmn_id)
        steps_seen.add(task.step)
        drain_jobs(live)
    assert steps_seen == {1, 2, 3, 4, 5, 6, 7}
    assert done.count("cast_ballot") == len(live.world.users.reps) and done.count("score_project") == 3

    committee = signed_in("committee")
    committee.goto(f"{live.url}/instances/{instance_id}")
    committee.wait_for_selector('.diagram[data-ready="true"]')
    assert committee.locator(".djs-element.sanshe-done").count() > 10
    text = committee.content()
    assert "已完成" in text and "各步骤用时" in text and "时间线" in text
    committee.screenshot(path=ARTIFACTS / "99_instance_completed.png", full_page=True)


def test_the_town_sees_where_projects_wait_on_the_diagram(live, chromium):
    """After the project above: the mining dashboard paints mean times onto the diagram."""
    page = sign_in(chromium, live.url, "town", 1360)
    page.click("text=流程挖掘")
    page.wait_for_selector('.heatmap[data-ready="true"]', timeout=20000)
    assert page.locator(".heatmap .heat").count() >= 10
    assert "各步骤用时" in page.content()
    page.screenshot(path=ARTIFACTS / "mining_dashboard.png", full_page=True)
    page.context.close()
