"""In Chromium, in Chinese: the mining dashboard, the administrator's pages, the working-day
calendar and the public notice page are no wider than the window on a 390 px phone nor at
1,366 px. Screenshots are kept as tests/artifacts/browser/width_*.png."""
import re

import pytest

from tests.drive import drive_to, voted_choices

from .conftest import ARTIFACTS, sign_in
from .test_notifications_and_layout import WIDTHS, start

pytestmark = pytest.mark.browser

HEATMAP = '.heatmap[data-ready="true"]'
PAGES = {
    "town": [("mining", "/mining/", HEATMAP), ("mining_by_organization", "/mining/?by=organization", HEATMAP),
             ("mining_by_year", "/mining/?by=year", HEATMAP)],
    "committee": [("mining_committee", "/mining/", HEATMAP)],
    "admin": [("admin", "/admin/", None), ("admin_users", "/admin/users", None), ("admin_audit", "/admin/audit", None),
              ("admin_workers", "/admin/workers", None), ("calendar", "/calendar", None)],
}


def too_wide(page, width):
    """The page's width and the elements sticking out of the window (for the message)."""
    return page.evaluate("""(w) => [document.documentElement.scrollWidth,
      [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1)
        .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))]""",
                         width)


def check(page, name, width):
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / f"width_{name}_{WIDTHS[width][0]}.png", full_page=True)
    scroll, culprits = too_wide(page, WIDTHS[width][0])
    assert scroll <= WIDTHS[width][0], f"{name} is {scroll}px wide at {WIDTHS[width][0]}px: {culprits}"


@pytest.mark.parametrize("width", ["phone", "desk"])
def test_mining_admin_and_notice_pages_fit(live, chromium, width):
    instance_id = start(live, f"页面宽度（{width}）")
    drive_to(live.services, instance_id, "purchase_decision", voted_choices())
    for username, pages in PAGES.items():
        page = sign_in(chromium, live.url, username, *WIDTHS[width])
        for name, path, ready in pages:
            page.goto(f"{live.url}{path}")
            if ready:
                page.wait_for_selector(ready, timeout=20000)
            check(page, name, width)
        if username == "town":  # the same dashboard in English, whose words are longer
            with page.expect_navigation():
                page.click('button[name="lang"][value="en"]')
            page.goto(f"{live.url}/mining/")
            page.wait_for_selector(HEATMAP, timeout=20000)
            assert "Process mining" in page.content() or "mining" in page.content().lower()
            check(page, "mining_en", width)
        page.context.close()
    w, h = WIDTHS[width]
    context = chromium.new_context(locale="zh-CN", viewport={"width": w, "height": h})
    page = context.new_page()
    page.goto(f"{live.url}/notices/{live.world.community.code}")
    assert re.search("公示|公告", page.content())
    check(page, "notices", width)
    context.close()


def test_the_everyday_pages_fit_the_smallest_phone(live, chromium):
    """At 360 px: the menu, inbox, notifications, a form with a table, a ballot, the project
    and the public notice page."""
    small = 360
    instance_id = start(live, "小屏手机")
    survey = drive_to(live.services, instance_id, "plan_survey", voted_choices())

    def page_of(username):
        return sign_in(chromium, live.url, username, small, 740)

    def fits(page, name):
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=ARTIFACTS / f"width_{name}_{small}.png", full_page=True)
        scroll, culprits = too_wide(page, small)
        assert scroll <= small, f"{name} is {scroll}px wide at {small}px: {culprits}"

    org = page_of("orgstaff")
    fits(org, "inbox")
    org.goto(f"{live.url}/notifications")
    fits(org, "notifications")
    org.goto(f"{live.url}/tasks/{survey}")
    if org.locator('[data-testid="claim"]').count():
        with org.expect_navigation():
            org.click('[data-testid="claim"]')
    org.click('[data-rows="survey_findings"] [data-add-row]')
    fits(org, "table_form")
    org.goto(f"{live.url}/instances/{instance_id}")
    org.wait_for_selector('.diagram[data-ready="true"]')
    fits(org, "project")
    org.context.close()

    drive_to(live.services, instance_id, "cast_ballot", voted_choices())
    voter = page_of("rep0")
    voter.click('a[href^="/tasks/"]')
    voter.wait_for_url(re.compile(r".*/tasks/.+"))
    assert "投票" in voter.content()
    fits(voter, "ballot")
    voter.goto(f"{live.url}/notices/{live.world.community.code}")
    fits(voter, "notices")
    voter.context.close()
