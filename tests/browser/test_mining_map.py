"""The process map and the city view in Chromium, in Chinese, at 1366 and 390 px.

Two projects move on through the first steps; the town reads the map, hides rare paths with
the slider and clicks an arrow to list its projects; the city's civil affairs bureau reads
mining, budgets and projects across towns and finds nothing to change.
"""
import re

import pytest

from engine.core.db import unit_of_work
from engine.core.models import User
from engine.method.driver import add_user, default_choices
from tests.drive import drive_to
from tests.factories import set_all_passwords

from .conftest import ARTIFACTS, sign_in

pytestmark = [pytest.mark.browser]
TITLES = ("象东居家养老地图项目", "象东青少年地图项目")


@pytest.fixture(scope="module")
def moved_on(live):
    services = live.services
    ids = []
    for title in TITLES:
        with unit_of_work(services.session_factory) as session:
            org = session.get(User, live.world.users.org.id)
            instance = services.runtime.start_instance(session, "seven_step_project", org, {
                "title": title, "organization_id": live.world.org.id, "catalog_item_id": live.world.item.id})
            ids.append(instance.id)
        drive_to(services, instance.id, "write_application", default_choices())
    with unit_of_work(services.session_factory) as session:
        add_user(session, "city", "city_bureau", "global", 0)
        session.flush()
        set_all_passwords(session)
    return ids


def no_wider_than(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [1366, 390])
def test_the_town_reads_the_process_map(live, chromium, moved_on, width):
    page = sign_in(chromium, live.url, "town", width)
    page.goto(f"{live.url}/mining/")
    page.wait_for_selector('.processmap[data-ready="true"]', timeout=20000)
    page.wait_for_selector('.heatmap[data-ready="true"]', timeout=20000)
    assert page.locator("svg.dfg .node").count() >= 4
    edges = page.locator("svg.dfg .edge")
    total = edges.count()
    assert total >= 3
    assert page.locator(".paths-shown").inner_text() == f"显示 {total} 条路径中的 {total} 条"
    # Labels in Chinese words: times and a duration in 天/小时/分钟/秒.
    assert re.search(r"2次 · [\d.]+(天|小时|分钟|秒)", page.locator("svg.dfg").text_content() or "")
    page.locator("input.paths").fill("0")  # only the most frequent path stays
    assert page.locator(".paths-shown").inner_text() == f"显示 {total} 条路径中的 1 条"
    assert page.locator("svg.dfg .edge:visible").count() == 1
    page.locator("input.paths").fill("100")
    arrow = page.locator('svg.dfg .edge[data-source="confirm_catalog_item"][data-target="check_eligibility"]')
    arrow.dispatch_event("click")
    page.wait_for_selector(".edge-cases table")
    listed = page.locator(".edge-cases").inner_text()
    assert "之后紧接" in listed and all(title in listed for title in TITLES)
    # The heatmap is big enough to read, with a legend.
    assert page.locator(".heatmap .heat").count() >= 3
    assert page.locator(".heat-legend .heat-scale").is_visible()
    font = page.locator(".heatmap .heat").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert font >= 14
    no_wider_than(page, width)
    page.screenshot(path=ARTIFACTS / f"mining_map_{width}.png", full_page=True)
    page.context.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_the_city_bureau_reads_across_towns(live, chromium, moved_on, width):
    page = sign_in(chromium, live.url, "city", width)
    nav = page.locator("nav.mainnav").inner_text()
    assert "流程挖掘" in nav and "预算" in nav and "项目" in nav
    page.goto(f"{live.url}/mining/")
    page.wait_for_selector('.processmap[data-ready="true"]', timeout=20000)
    body = page.locator("main").inner_text()
    assert "按镇（街道）比较" in body or "按镇比较" in body
    assert live.world.town.name in body
    no_wider_than(page, width)
    page.screenshot(path=ARTIFACTS / f"city_mining_{width}.png", full_page=True)
    page.goto(f"{live.url}/budgets")
    budgets = page.locator("main").inner_text()
    assert live.world.town.name in budgets
    assert page.locator('form[action="/budgets"]').count() == 0  # reads, sets nothing
    no_wider_than(page, width)
    page.screenshot(path=ARTIFACTS / f"city_budgets_{width}.png", full_page=True)
    page.goto(f"{live.url}/instances")
    projects = page.locator("main").inner_text()
    assert all(title in projects for title in TITLES)
    page.click(f"text={TITLES[0]}")
    # No button to act on the project (following it, for one's own notifications, changes nothing of it).
    assert page.locator('main form[method=post]:not([action$="/follow"])').count() == 0
    no_wider_than(page, width)
    page.context.close()
