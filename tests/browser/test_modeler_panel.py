"""An administrator reading Chinese, without XML: inserts a town task, makes its form in the
designer, raises the vote's pass rule in the side panel, runs a trial that covers the new
task, and deploys; a project started afterwards goes through the new task and is counted by
the new rule."""
import re

import pytest
from lxml import etree
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.method.driver import fill
from engine.core.models import Definition, Job, Task, User
from tests.drive import drive_to, voted_choices, work

from .conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def latest(live):
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        return session.scalars(select(Definition).where(Definition.key == "seven_step_project")
                               .order_by(Definition.version.desc())).first()


# Put a user task in the town lane on the flow from the qualification approval to the survey
# (as dropping it on that flow does).
INSERT_TASK = """() => {
  const modeler = window.sanshModeler;
  const registry = modeler.get('elementRegistry');
  const modeling = modeler.get('modeling');
  const flow = registry.get('flow_gw_qualification_to_plan_survey');
  const survey = registry.get('plan_survey');
  const lane = registry.get('lane_town_government');
  const anchor = registry.get('approve_qualification');
  const task = modeling.createShape({type: 'bpmn:UserTask'},
      {x: anchor.x + anchor.width / 2 + 160, y: lane.y + lane.height / 2}, lane);
  modeling.reconnectEnd(flow, task, {x: task.x, y: task.y + task.height / 2});
  modeling.connect(task, survey);
  modeler.get('selection').select(task);
  return task.id;
}"""


def tally_parameters(xml):
    root = etree.fromstring(xml.encode("utf-8"))
    return {p.get("id"): p.get("value") for p in root.xpath(
        "//*[local-name()='serviceTask'][@id='tally_votes']//*[local-name()='parameter']")}


def lane_role(xml, lane_id):
    """A lane's role: its ``role`` property, else its name."""
    [lane] = etree.fromstring(xml.encode("utf-8")).xpath(f"//*[local-name()='lane'][@id='{lane_id}']")
    props = lane.xpath("./*[local-name()='extensionElements']//*[local-name()='property'][@name='role']")
    return props[0].get("value") if props else lane.get("name")


def step(page, testid, within=None):
    """Click a step control of the trial run and wait for the report it answers with."""
    (within or page).locator(f'[data-testid="{testid}"]').first.click()
    page.wait_for_function("() => !document.getElementById('trial-box').hasAttribute('aria-busy')",
                           timeout=90_000)


def step_until(page, selector, limit=40):
    """Complete open tasks with generated data until ``selector`` shows in the trial box."""
    box = page.locator("#trial-box")
    for _ in range(limit):
        if box.locator(selector).count():
            return box.locator(selector).first
        step(page, "trial-auto" if box.locator('[data-testid="trial-auto"]').count() else "trial-timer")
    raise AssertionError(f"{selector} never showed")


def trial_step_by_step(page, task_id):
    """The trial run step by step: the new task's designed form filled in by hand (refused
    first, with the reason in Chinese), the clock moved to the voting deadline, the
    coordination message sent, then the rest run by itself; each gateway's ways out listed."""
    page.click('[data-testid="trial-steps-start"]')
    page.locator('[data-testid="trial-steps"]').wait_for(timeout=90_000)
    task = step_until(page, f'[data-open-task="{task_id}"]')
    task.locator('[data-testid="trial-fill-open"]').click()
    step(page, "trial-fill-submit", within=task)  # nothing filled in: refused
    task = page.locator(f'#trial-box [data-open-task="{task_id}"]')
    refused = task.locator('[data-testid="trial-refused"]')
    assert "试运行中没有任何改动" in refused.inner_text()
    assert task.locator(".field-error").count() >= 1
    page.screenshot(path=ARTIFACTS / "trial_steps_refused_zh_1366.png", full_page=True)
    form = task.locator('[data-testid="trial-fill-form"]')
    form.get_by_label("备案意见").fill("手工填写的备案意见")
    form.get_by_label("预算上限").fill("60000")
    step(page, "trial-fill-submit", within=task)
    report = page.locator('[data-testid="trial-report"]')
    assert report.locator(f'tr[data-task="{task_id}"] [data-testid="by-hand"]').inner_text() == "手动填写"
    timer = step_until(page, '[data-testid="trial-timer"]')
    assert "把时钟拨到下一个定时器" in timer.inner_text() and "表决截止" in timer.inner_text()
    step(page, "trial-timer")
    assert page.locator('[data-testid="trial-timers"]').count() == 1
    message = step_until(page, '[data-testid="trial-message"]')
    assert "申请协调" in message.inner_text()
    step(page, "trial-message")
    assert "申请协调" in page.locator('[data-testid="trial-messages"]').inner_text()
    assert page.locator('#trial-box [data-open-task="coordination_meeting"]').count() == 1
    step(page, "trial-run-on")
    report = page.locator('[data-testid="trial-report"]')
    assert "项目走完了全程" in report.inner_text()
    branches = report.locator('[data-testid="trial-branches"]')
    assert "从未走过" in branches.inner_text() and "已走过" in branches.inner_text()
    assert branches.locator('tr[data-flow="flow_ballot_deadline_to_mark_absent"]').count() == 0  # not a gateway
    assert "flow_ballot_deadline_to_mark_absent" not in {
        i for i in report.locator('[data-testid="trial-missed"] [data-id]').evaluate_all(
            "els => els.map(e => e.getAttribute('data-id'))")}
    page.screenshot(path=ARTIFACTS / "trial_steps_zh_1366.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=ARTIFACTS / "trial_steps_zh_390.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1366, "height": 1000})


def test_the_pass_ratio_raised_in_the_panel_counts_for_a_new_project(live, admin_page):
    before = latest(live)
    page, errors = admin_page(height=1000)
    page.goto(f"{live.url}/admin/definitions/{before.id}/edit")
    page.wait_for_selector('#modeler[data-ready="true"]', timeout=20_000)

    # The modeler speaks Chinese and lanes are shown by their Chinese names.
    page.hover('.djs-element[data-element-id="tally_votes"]')
    page.click('.djs-element[data-element-id="tally_votes"]')
    assert page.locator(".djs-context-pad [title='更改类型']").count() == 1
    assert page.locator(".djs-palette [title='添加任务']").count() == 1
    lane_label = page.locator('.djs-element[data-element-id="lane_community_committee"] text').first.text_content()
    assert lane_label == "社区居委会" or "居委会" in lane_label, lane_label

    panel = page.locator('[data-testid="panel"]')
    task_id = page.evaluate(INSERT_TASK)
    panel.locator('[data-prop="name"]').fill("镇政府备案")
    panel.locator('[data-prop="name"]').press("Tab")
    panel.locator('[data-prop="step"]').select_option("2")
    panel.locator('[data-prop="dueDays"]').fill("3")
    panel.locator('[data-prop="dueDays"]').press("Tab")
    panel.locator('[data-prop="dueUnit"]').select_option("working")
    panel.locator('[data-testid="new-form"]').click()
    dialog = page.locator('[data-testid="form-dialog"]')
    dialog.locator('[data-designer="name"]').fill("town_filing")
    dialog.locator('[data-designer="title-zh"]').fill("镇政府备案")
    dialog.locator('[data-designer="title-zh"]').press("Tab")
    dialog.locator('[data-designer="add-field"]').click()
    first = dialog.locator(".designer-field").nth(0)
    first.locator('[data-designer="label-zh"]').fill("备案意见")
    first.locator('[data-designer="label-zh"]').press("Tab")
    first.locator('[data-designer="kind"]').select_option("textarea")
    first.locator('[data-designer="required"]').check()
    dialog.locator('[data-designer="add-field"]').click()
    second = dialog.locator(".designer-field").nth(1)
    second.locator('[data-designer="kind"]').select_option("money")
    second.locator('[data-designer="label-zh"]').fill("预算上限")
    second.locator('[data-designer="label-zh"]').press("Tab")
    second.locator('[data-designer="min"]').fill("0")
    second.locator('[data-designer="min"]').press("Tab")
    second.locator('[data-designer="required"]').check()
    preview = dialog.locator('[data-testid="designer-preview"]')
    preview.locator("text=预算上限").wait_for(timeout=10_000)
    assert "备案意见" in preview.inner_text()
    page.screenshot(path=ARTIFACTS / "form_designer_zh_1366.png")
    dialog.locator('[data-testid="designer-add"]').click()
    assert panel.locator('[data-prop="formJsonSchemaFilename"]').input_value() == "town_filing.schema.json"

    page.hover('.djs-element[data-element-id="tally_votes"]')
    page.click('.djs-element[data-element-id="tally_votes"]')
    assert panel.locator('[data-prop="topic"] option:checked').inner_text() == "计票"
    assert "赞成票" in panel.inner_text()
    ratio = panel.locator('[data-param="pass_ratio"]')
    assert ratio.locator('[data-part="numerator"]').input_value() == "1"
    ratio.locator('[data-part="numerator"]').fill("3")
    ratio.locator('[data-part="numerator"]').press("Tab")
    ratio.locator('[data-part="denominator"]').fill("4")
    ratio.locator('[data-part="denominator"]').press("Tab")
    assert "四分之三" in ratio.inner_text()
    panel.locator('select[data-param="pass_comparison"]').select_option("at_least")
    panel.locator('[data-prop="documentation"]').fill("按《村民委员会组织法》计票")
    panel.locator('[data-prop="documentation"]').press("Tab")

    # The voting deadline: ten days instead of seven, in days, not as P10D.
    page.evaluate("() => { const m = window.sanshModeler; "
                  "m.get('selection').select(m.get('elementRegistry').get('ballot_deadline')); }")
    assert panel.locator('[data-prop="timerDays"]').input_value() == "7"
    panel.locator('[data-prop="timerDays"]').fill("10")
    panel.locator('[data-prop="timerDays"]').press("Tab")
    page.screenshot(path=ARTIFACTS / "modeler_panel_zh_1366.png")

    # The trial run: in a sandbox, through the new task; nothing is deployed.
    page.click('[data-testid="trial"]')
    report = page.locator('[data-testid="trial-report"]')
    report.wait_for(timeout=90_000)
    assert "项目走完了全程" in report.inner_text()
    row = report.locator(f'tr[data-task="{task_id}"]')
    assert "镇政府备案" in row.inner_text() and "镇政府/街道办" in row.inner_text()
    assert report.locator(f'[data-testid="trial-missed"] [data-id="{task_id}"]').count() == 0
    assert report.locator('[data-testid="trial-missed"] [data-id="decide_failed_vote"]').count() == 1
    page.screenshot(path=ARTIFACTS / "trial_report_zh_1366.png", full_page=True)
    # Again, with the representatives voting no: the failed-vote way is covered too.
    report.locator('select[data-choice="ballot"]').select_option(label="反对")
    report.locator('[data-testid="trial-again"]').click()
    page.locator('[data-testid="trial-report"] tr[data-task="decide_failed_vote"]').wait_for(timeout=90_000)
    assert latest(live).version == before.version
    trial_step_by_step(page, task_id)
    assert latest(live).version == before.version

    page.click('[data-testid="save"]')
    page.wait_for_url(re.compile(r".*/admin/definitions/\d+$"), timeout=20_000)
    assert errors == []
    saved = latest(live)
    assert saved.version == before.version + 1
    root = etree.fromstring(saved.bpmn_xml.encode("utf-8"))
    [deadline] = root.xpath("//*[@id='ballot_deadline']//*[local-name()='timeDuration']")
    assert deadline.text.strip() == '"P10D"'
    [doc] = root.xpath("//*[@id='tally_votes']/*[local-name()='documentation']")
    assert doc.text == "按《村民委员会组织法》计票"
    params = tally_parameters(saved.bpmn_xml)
    assert params["pass_ratio"] == "3/4" and params["pass_comparison"] == '"at_least"'
    assert params["quorum_ratio"] == "2/3"  # untouched
    # The lanes' roles are what they were: the engine finds the same people.
    assert lane_role(saved.bpmn_xml, "lane_town_government") == lane_role(before.bpmn_xml, "lane_town_government")
    assert {k: v for k, v in saved.forms.items() if k != "town_filing.schema.json"} == before.forms
    designed = saved.forms["town_filing.schema.json"]
    assert designed["title"] == "镇政府备案"
    [text_key, money_key] = list(designed["properties"])
    assert designed["properties"][money_key] == {"type": "number", "title": "预算上限", "x-widget": "money", "minimum": 0}
    assert designed["properties"][text_key]["x-widget"] == "textarea"
    assert set(designed["required"]) == {text_key, money_key}
    root = etree.fromstring(saved.bpmn_xml.encode("utf-8"))
    [task] = root.xpath(f"//*[@id='{task_id}']")
    assert task.get("name") == "镇政府备案"
    props = {p.get("name"): p.get("value") for p in task.xpath(".//*[local-name()='property']")}
    assert props == {"step": "2", "formJsonSchemaFilename": "town_filing.schema.json", "dueInWorkingDays": "3"}

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live.url}/admin/definitions/{saved.id}/edit")
    page.wait_for_selector('#modeler[data-ready="true"]', timeout=20_000)
    page.screenshot(path=ARTIFACTS / "modeler_panel_zh_390.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # A project started now: three of the five representatives vote yes (60%), which the old
    # rule (more than half) passes and the new one (at least three quarters) does not.
    services, world = live.services, live.world
    with unit_of_work(services.session_factory) as session:
        org = session.get(User, world.users.org.id)
        instance = services.runtime.start_instance(session, "seven_step_project", org, {
            "title": "新规则下的项目", "organization_id": world.org.id, "catalog_item_id": world.item.id})
        instance_id = instance.id
        assert instance.definition_id == saved.id
    waiting = drive_to(services, instance_id, task_id, voted_choices())  # the new town task is reached
    with unit_of_work(services.session_factory, readonly=True) as session:
        row = session.get(Task, waiting)
        assert row.due_at == services.runtime.working_days(session, row.created_at, 3)
        assert (row.due_at - row.created_at).days >= 3
    drive_to(services, instance_id, "cast_ballot", voted_choices())
    with unit_of_work(services.session_factory, readonly=True) as session:
        ballots = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.bpmn_id == "cast_ballot",
                                                     Task.state == "ready").order_by(Task.assignee)).all()
        ballots = [(row.id, row.assignee) for row in ballots]
    assert len(ballots) == 5
    for (task_id, username), vote in zip(ballots, ("yes", "yes", "yes", "no", "no")):
        with unit_of_work(services.session_factory) as session:
            user = session.scalar(select(User).where(User.username == username))
            form = services.runtime.task_form(session, task_id, user)
            services.runtime.complete_task(session, task_id, user, fill(form, {**voted_choices(), "ballot": vote}))
    work(services)
    with unit_of_work(services.session_factory, readonly=True) as session:
        job = session.scalars(select(Job).where(Job.instance_id == instance_id, Job.topic == "vote_tally")).one()
        assert job.variables["params"]["pass_ratio"] == pytest.approx(3 / 4)
        assert job.variables["params"]["pass_comparison"] == "at_least"
        ready = session.scalars(select(Task.bpmn_id).where(Task.instance_id == instance_id,
                                                           Task.state == "ready")).all()
    assert "decide_failed_vote" in ready, ready


def test_an_existing_form_opens_in_the_designer_and_keeps_what_it_does_not_show(live, admin_page):
    before = latest(live)
    name = "plan_survey.schema.json"
    original = before.forms[name]
    page, errors = admin_page(height=1000)
    page.goto(f"{live.url}/admin/definitions/{before.id}/forms/{name}")
    page.wait_for_selector('#form-designer[data-ready="true"]', timeout=20_000)
    designer = page.locator('[data-testid="form-designer"]')
    assert designer.locator(".designer-fields:not(.columns) > .designer-field").count() == len(original["properties"])
    first = designer.locator(".designer-field").nth(0)
    assert first.locator('[data-designer="label-zh"]').input_value() == "调查方案"
    assert first.locator('[data-designer="kind"]').input_value() == "textarea"
    first.locator('[data-designer="label-zh"]').fill("调查方案（含分工）")
    first.locator('[data-designer="label-zh"]').press("Tab")
    page.locator("#form-preview").locator("text=调查方案（含分工）").wait_for(timeout=10_000)
    page.screenshot(path=ARTIFACTS / "form_designer_existing_zh_1366.png", full_page=True)
    page.click('button[type="submit"]')
    page.wait_for_url(re.compile(r".*/admin/definitions/\d+$"), timeout=20_000)
    assert errors == []
    saved = latest(live)
    assert saved.version == before.version + 1
    changed = saved.forms[name]
    assert changed["properties"]["survey_plan"]["title"] == "调查方案（含分工）"
    changed["properties"]["survey_plan"]["title"] = "调查方案"
    assert changed == original  # nothing else moved: order, choices, tables, rules
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live.url}/admin/definitions/{saved.id}/forms/{name}")
    page.wait_for_selector('#form-designer[data-ready="true"]', timeout=20_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=ARTIFACTS / "form_designer_existing_zh_390.png")


GROUP_THEN_TASK = """() => {
  const modeler = window.sanshModeler;
  const registry = modeler.get('elementRegistry');
  const modeling = modeler.get('modeling');
  const lane = registry.get('lane_town_government');
  const root = modeler.get('canvas').getRootElement();
  const group = modeling.createShape({type: 'bpmn:Group'},
      {x: lane.x + 400, y: lane.y + lane.height / 2, width: 300, height: 200}, root);
  modeling.updateLabel(group, '第二步 需求调查与申请');
  const task = modeling.createShape({type: 'bpmn:UserTask'}, {x: group.x + 150, y: group.y + 100}, lane);
  modeler.get('selection').select(task);
  return task.id;
}"""


def test_a_task_put_in_a_steps_group_takes_that_step(live, admin_page):
    page, _errors = admin_page(height=1000)
    page.goto(f"{live.url}/admin/definitions/{latest(live).id}/edit")
    page.wait_for_selector('#modeler[data-ready="true"]', timeout=20_000)
    page.evaluate(GROUP_THEN_TASK)
    step = page.locator('[data-testid="panel"] [data-prop="step"]')
    assert step.input_value() == "2"
    assert step.locator("option:checked").inner_text().startswith("第二步")
