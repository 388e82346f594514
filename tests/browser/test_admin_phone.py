"""Every administration page on a 390 px phone, in Chinese, signed in as the administrator:
none is wider than the window (no sideways scrolling) and no list is cut off. Screenshots are kept as
tests/artifacts/browser/admin_*_390.png."""
import re

import pytest

from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from tests import diagram_edits as edits

from .conftest import ARTIFACTS, PROCESSES, sign_in
from .test_notifications_and_layout import start

pytestmark = pytest.mark.browser

# Tables that only fit by scrolling inside their card: on a phone their last columns are cut off.
CLIPPED_TABLES = """() => [...document.querySelectorAll('table')]
  .filter(t => t.offsetParent !== null && t.scrollWidth > t.clientWidth + 1)
  .map(t => t.className + ' ' + t.scrollWidth + '/' + t.clientWidth)"""


def admin_pages(live, page):
    """The path of every page of the administration area (the forms of version 1, a person,
    a town's agreement text, the changes of version 2 and the move of projects to it)."""
    def first_link(path, pattern):
        page.goto(f"{live.url}{path}")
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        found = [h for h in hrefs if re.search(pattern, h)]
        assert found, f"no link like {pattern} on {path}"
        return found[0]

    return ["/admin/", "/admin/upload", "/admin/definitions/1", "/admin/definitions/2/edit",
            first_link("/admin/definitions/1", r"/admin/definitions/1/forms/"), "/admin/diff?old=1&new=2",
            "/admin/migrate?target=2", "/admin/audit", "/admin/incidents", "/admin/users",
            first_link("/admin/users", r"^/admin/users/\d+$"), "/admin/workers", "/admin/agreement-texts",
            first_link("/admin/agreement-texts", r"^/admin/agreement-texts/\d+$"), "/calendar"]


def test_no_admin_page_scrolls_sideways_on_a_phone(live, chromium):
    start(live, "手机上的管理页面")  # a project on version 1, for the move to version 2
    bpmn, forms = read_bundle([PROCESSES])
    changed = {"seven_step_project.bpmn": edits.set_param(edits.original(), "tally_votes", "pass_ratio", "2/3")}
    with unit_of_work(live.services.session_factory) as session:
        deploy(session, live.services.runtime.spec_cache, changed, forms, "admin")
    page = sign_in(chromium, live.url, "admin", 390, 844)
    wide = {}
    for path in admin_pages(live, page):
        response = page.goto(f"{live.url}{path}")
        assert response is not None and response.ok, f"{path} answered {response and response.status}"
        page.wait_for_load_state("networkidle")
        name = re.sub(r"[^a-z0-9]+", "_", path.lower().removeprefix("/admin")).strip("_") or "index"
        page.screenshot(path=ARTIFACTS / f"admin_{name}_390.png", full_page=True)
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        clipped = page.evaluate(CLIPPED_TABLES)
        if scroll > inner or clipped:
            wide[path] = (scroll, clipped)
    page.context.close()
    assert not wide, f"wider than the 390 px window, or a list cut off inside its card: {wide}"
