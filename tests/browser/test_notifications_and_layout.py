"""In Chromium, in Chinese: the bell and the notification centre lead to the task; a task is
completed with the keyboard alone and the page then says what happens next; every input
has a label (inputs in table rows too); no page is wider than the window at 1,366 px or on
a 390 px phone. Screenshots at both widths are kept under tests/artifacts/browser."""
import re

import pytest
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Task, User
from engine.method.driver import start_project
from tests.drive import drive_to, voted_choices

from .conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser

WIDTHS = {"desk": (1366, 900), "phone": (390, 844)}
# Every visible input, select and textarea without a name a screen reader can say.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(e => e.name || e.id || e.outerHTML.slice(0, 80))"""


def start(live, title):
    return start_project(live.services, live.world, title=title)


def fits(page, name, width):
    """The page is no wider than the window; a screenshot is kept."""
    page.screenshot(path=ARTIFACTS / f"notify_{name}_{WIDTHS[width][0]}.png", full_page=True)
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= WIDTHS[width][0], f"{name} is {wide}px wide at {WIDTHS[width][0]}px"


@pytest.mark.parametrize("width", ["desk", "phone"])
def test_the_bell_leads_to_the_task_and_pages_fit(live, chromium, width):
    instance_id = start(live, f"银龄互助（{width}）")
    page = sign_in(chromium, live.url, "committee", *WIDTHS[width])
    bell = page.locator('[data-testid="bell"]')
    assert int(page.locator('[data-testid="bell-count"]').inner_text()) >= 1
    assert "未读" in bell.get_attribute("aria-label")
    fits(page, "inbox", width)
    # The menu keeps each word on one line (no one character per line on a phone).
    heights = page.eval_on_selector_all(".mainnav a", "links => links.map(a => a.getBoundingClientRect().height)")
    assert max(heights) < 40, heights
    bell.click()
    page.wait_for_url(re.compile(r".*/notifications$"))
    assert "您的角色有新任务" in page.content()
    fits(page, "notifications", width)
    assert page.evaluate(UNLABELLED) == []
    page.locator('[data-testid="notice"] .notice-open button').first.click()
    page.wait_for_url(re.compile(r".*/tasks/.+"))
    fits(page, "task", width)
    assert page.evaluate(UNLABELLED) == []
    page.goto(f"{live.url}/notifications/settings")
    assert page.evaluate(UNLABELLED) == []
    # Each choice reads on one line (a radio button must not squeeze its words into a column).
    heights = page.eval_on_selector_all("table.prefs label.choice", "ls => ls.map(l => l.getBoundingClientRect().height)")
    assert max(heights) < 40, heights
    fits(page, "settings", width)
    page.goto(f"{live.url}/instances/{instance_id}")
    page.wait_for_selector('.diagram[data-ready="true"]')
    assert page.locator(".diagram-tools button").count() == 4
    fits(page, "project", width)
    page.context.close()


def test_a_task_completed_with_the_keyboard_alone_says_what_happens_next(live, chromium):
    start(live, "键盘办理")
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        task_id = session.scalars(select(Task.id).where(Task.state == "ready", Task.bpmn_id == "confirm_catalog_item")
                                  .order_by(Task.created_at.desc())).first()
    page = sign_in(chromium, live.url, "committee", *WIDTHS["desk"])
    page.goto(f"{live.url}/tasks/{task_id}")

    def tab_to(selector, limit=80):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to('[data-testid="claim"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to('[name="screening_item_confirmed"]')
    page.keyboard.press("Space")
    tab_to('[name="screening_service_scope"]')
    page.keyboard.type("为辖区内独居老人提供居家养老服务")
    tab_to('[name="screening_org_qualification"]')
    page.keyboard.type("已登记，具备社工资质")
    tab_to('[name="screening_org_capacity"]')
    page.keyboard.press("ArrowDown")
    tab_to('[data-testid="complete"]')
    with page.expect_navigation(url=re.compile(r".*/inbox.*")):
        page.keyboard.press("Enter")
    assert "接下来：系统自动审查进行中" in page.content()
    page.screenshot(path=ARTIFACTS / "notify_keyboard_done_1366.png", full_page=True)
    page.context.close()


def test_inputs_in_table_rows_have_labels_on_a_phone(live, chromium):
    instance_id = start(live, "表格标签")
    task_id = drive_to(live.services, instance_id, "plan_survey", voted_choices())
    with unit_of_work(live.services.session_factory) as session:
        live.services.runtime.claims.claim_task(session, task_id, session.get(User, live.world.users.org.id))
    page = sign_in(chromium, live.url, "orgstaff", *WIDTHS["phone"])
    page.goto(f"{live.url}/tasks/{task_id}")
    page.click('[data-rows="survey_findings"] [data-add-row]')
    page.click('[data-rows="survey_findings"] [data-add-row]')
    assert page.locator('[data-rows="survey_findings"] tbody tr').count() == 2
    assert page.evaluate(UNLABELLED) == []
    fits(page, "table_rows", "phone")
    page.context.close()

