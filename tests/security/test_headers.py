"""Headers stop clickjacking, injected script and referrer leaks; cookies stay on HTTPS when asked."""
import re
from pathlib import Path

import pytest

from tests.webui.conftest import Client, start_project
from webui import create_app

TEMPLATES = Path(__file__).resolve().parents[2] / "webui" / "templates"
# Script the browser would run from the page itself; a JSON data block (`type="application/json"`,
# filled with `tojson`, which escapes `<`) is data, never run, and the policy does not apply to it.
INLINE_SCRIPT = re.compile(r'<script(?![^>]*\b(?:src=|type="application/json"))[^>]*>', re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def _assert_protected(response):
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_page_can_be_framed_or_run_injected_script(web, as_user):
    committee = as_user("committee")
    instance_id = start_project(web)
    anonymous = Client(web.app)
    for response in (anonymous.http.get("/login"), anonymous.http.get("/inbox"),
                     committee.get("/inbox"), committee.get(f"/instances/{instance_id}"),
                     committee.get("/no-such-page"), anonymous.http.get("/static/app.css"),
                     anonymous.http.post("/api/jobs/fetch-and-lock", json={})):
        _assert_protected(response)
        response.close()  # the static file's handle


def test_templates_hold_no_inline_script_the_policy_would_block():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not INLINE_SCRIPT.search(text), template
        assert not INLINE_HANDLER.search(text), template
        assert "javascript:" not in text, template


def test_cookies_are_sent_over_https_only_when_configured(web):
    web.services.settings.session_cookie_secure = True
    app = create_app(services=web.services, test_config={"TESTING": True})
    client = Client(app)
    response = client.login("committee")
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]
    web.services.settings.session_cookie_secure = False
    plain = Client(create_app(services=web.services, test_config={"TESTING": True})).login("committee")
    assert "Secure" not in plain.headers["Set-Cookie"]


@pytest.mark.browser
def test_every_kind_of_page_works_under_the_policy_without_violations(live, chromium):
    """The real pages in Chromium: the diagram viewer, the modeler, filters that submit on
    change and htmx all work with the policy, and the browser reports no blocked script."""
    from tests.browser.conftest import PASSWORD

    context = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda exc: violations.append(str(exc)))
    page.goto(f"{live.url}/login")
    page.fill('input[name="username"]', "admin")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(re.compile(r".*/inbox.*"))
    page.goto(f"{live.url}/admin/")
    page.click("tr[data-version] >> text=编辑")
    page.wait_for_selector('#modeler[data-ready="true"]', timeout=15_000)
    page.goto(f"{live.url}/admin/audit")
    with page.expect_navigation():
        page.select_option('select[name="action"]', index=1)
    assert "action=" in page.url
    page.goto(f"{live.url}/mining/")
    page.wait_for_load_state("networkidle")
    context.close()
    assert violations == []
