"""People by name, the panel picked from a list with recusal reasons, and rule results in
words - seen in Chromium, in Chinese, on a desktop (1366 px) and a phone (390 px) screen."""
import re
from datetime import date

import pytest
from sqlalchemy import select

from engine.core import affiliations
from engine.core.db import unit_of_work
from engine.core.models import User
from tests.webui.test_people_and_results import NAMES, advance

from .conftest import ARTIFACTS, sign_in

pytestmark = [pytest.mark.browser]
WIDTHS = (1366, 390)


@pytest.fixture(scope="module")
def project(live):
    """A project waiting for the committee to form its panel; rep3 volunteers for the applicant."""
    with unit_of_work(live.services.session_factory) as session:
        for username, name in NAMES.items():
            session.scalar(select(User).where(User.username == username)).display_name = name
        rep3 = session.scalar(select(User).where(User.username == "rep3"))
        affiliations.add(session, rep3, live.world.org.id, "membership", date(2020, 1, 1), title="志愿者")
        org = session.get(User, live.world.users.org.id)
        instance = live.services.runtime.start_instance(session, "seven_step_project", org, {
            "title": "象东社区银龄互助项目", "organization_id": live.world.org.id,
            "catalog_item_id": live.world.item.id})
        instance_id = instance.id
    task = advance(live, instance_id, "form_panel")
    return instance_id, task.id


def fits(page):
    """Nothing is wider than the window (no sideways scrolling on a phone)."""
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.rows-wrap, .diagram'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert not wide, wide
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_committee_picks_the_panel_and_reads_the_results(live, chromium, project, width):
    instance_id, task_id = project
    page = sign_in(chromium, live.url, "committee", width)
    page.goto(f"{live.url}/tasks/{task_id}")
    picker = page.locator('[name="panel_members"]')
    assert picker.count() == 7  # three panel members and four representatives; rep3 stands aside
    recused = page.locator('[data-testid="recused-candidates"]').inner_text()
    assert "刘桂芳" in recused and "志愿者" in recused
    results = page.locator('[data-testid="rule-results"]').inner_text()
    assert "表决通过" in results and "到会人数不少于三分之二" in results and "worker" not in results
    assert fits(page), "the task page is wider than the window"
    page.screenshot(path=ARTIFACTS / f"people_form_panel_{width}.png", full_page=True)
    page.goto(f"{live.url}/instances/{instance_id}")
    text = page.content()
    assert "系统自动审查" in text and "王丽华" in text and "worker-1" not in text
    assert fits(page), "the project page is wider than the window"
    page.screenshot(path=ARTIFACTS / f"people_project_{width}.png", full_page=True)
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_applicant_sees_its_own_screening_only(live, chromium, project, width):
    instance_id, _ = project
    page = sign_in(chromium, live.url, "orgstaff", width)
    page.goto(f"{live.url}/instances/{instance_id}")
    results = page.locator('[data-testid="rule-results"]').inner_text()
    assert "申请的社会组织符合承接该服务事项的条件" in results and "另一家机构" not in results
    assert fits(page)
    page.screenshot(path=ARTIFACTS / f"people_project_applicant_{width}.png", full_page=True)
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_administrator_records_an_affiliation(live, chromium, width):
    page = sign_in(chromium, live.url, "admin", width)
    page.goto(f"{live.url}/admin/users")
    assert fits(page), "the people list is wider than the window"
    page.screenshot(path=ARTIFACTS / f"people_admin_users_{width}.png", full_page=True)
    page.click('tr[data-username="rep2"] a')
    page.wait_for_url(re.compile(r".*/admin/users/\d+$"))
    affiliation = page.locator('form[action$="/affiliations"]')
    affiliation.locator('select[name="organization_id"]').select_option(str(live.world.other_org.id))
    affiliation.locator('select[name="kind"]').select_option("membership")
    affiliation.locator('input[name="title"]').fill(f"会员{width}")
    affiliation.locator('button[type="submit"]').click()
    page.wait_for_load_state()
    assert "组织关系已记录" in page.content() and f"会员{width}" in page.content()
    assert fits(page), "the person's page is wider than the window"
    page.screenshot(path=ARTIFACTS / f"people_admin_user_{width}.png", full_page=True)
    page.context.close()
