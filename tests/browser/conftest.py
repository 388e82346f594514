"""The real app served on a free localhost port (werkzeug in a thread) on a temp SQLite file,
and Debian's Chromium driven by Playwright."""
import os
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
