"""The real app served on a free localhost port (werkzeug in a thread) on a temp SQLite file,
and Debian's Chromium driven by Playwright."""
import os
import re
import threading
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug.serving import make_server

from engine.core import users as user_store
from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from engine.method.models import Budget
from tests.conftest import make_services
from tests.factories import FAST_HASHER, PASSWORD, make_world, set_all_passwords  # noqa: F401 (PASSWORD: tests)
from webui import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PROCESSES = Path(__file__).resolve().parents[2] / "processes"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"


def log_in(page, url, username, password=PASSWORD, login_says=None):
    """Sign ``page`` in as ``username`` on the app at ``url`` (its sign-in page saying
    ``login_says``, when given); returns once the inbox shows."""
    page.goto(f"{url}/login")
    if login_says is not None:
        assert login_says in page.content()
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(re.compile(r".*/inbox.*"))


def sign_in(chromium, url, username, width=1366, height=900, password=PASSWORD, locale="zh-CN", login_says=None,
            **options):
    """A page of a new browser context (``options`` for it, e.g. ``accept_downloads``), signed in
    as ``username`` on the app at ``url`` (see :func:`log_in`), ``width`` x ``height`` pixels;
    close ``page.context``."""
    page = chromium.new_context(locale=locale, viewport={"width": width, "height": height}, **options).new_page()
    log_in(page, url, username, password, login_says)
    return page


@pytest.fixture
def admin_page(chromium, live):
    """Opens a page signed in as the administrator: ``admin_page(locale, width, height)`` returns
    ``(page, errors)``, ``errors`` collecting the page's script errors from the sign-in on.
    Its context is closed after the test."""
    contexts = []

    def open_page(locale="zh-CN", width=1366, height=900):
        contexts.append(chromium.new_context(locale=locale, viewport={"width": width, "height": height}))
        page = contexts[-1].new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        log_in(page, live.url, "admin")
        return page, errors
    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is required under CI (make browser-deps installs it)")
        pytest.skip(f"{CHROMIUM} is not installed (make browser-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app at http://127.0.0.1:PORT with the seven-step process and a user per role."""
    saved, user_store._hasher = user_store._hasher, FAST_HASHER
    services = make_services(f"sqlite:///{tmp_path_factory.mktemp('live') / 'sanshe.db'}")
    bpmn, forms = read_bundle([PROCESSES])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
        world = make_world(session)
        session.add(Budget(town_id=world.town.id, year=datetime.now().year, total_fen=100_000_000))
        set_all_passwords(session)
    app = create_app(services=services)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", services=services, world=world)
    server.shutdown()
    thread.join(5)
    services.db.dispose()
    user_store._hasher = saved
