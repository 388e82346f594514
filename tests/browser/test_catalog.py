"""Step 1's catalog in the browser, in Chinese, on a database made as ``make run`` makes it
(the processes deployed, the Yueqing pilot loaded): the community committee adds an item
to this year's catalog, the town approves it, an organization starts a project on it today
and the committee finds step 1 in its inbox. Screens at desktop and phone widths."""
import re
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.config import load_settings
from engine.core import users as user_store
from engine.core.db import unit_of_work
from engine.core.models import Instance
from engine.method.catalog import this_year
from engine.method.demo import password_of
from engine.wiring import build_services
from tests.factories import FAST_HASHER
from webui import create_app
from workers.demo import run_demo

from . import conftest
from .conftest import ARTIFACTS, PROCESSES

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # loads the whole pilot demo
WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """``make run``'s database (init, deploy processes/, the pilot demo) served on a free port."""
    saved, user_store._hasher = user_store._hasher, FAST_HASHER
    settings = load_settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('demo') / 'sanshe.db'}",
                             processes_dir=str(PROCESSES))
    run_demo(settings, projects=0, echo=lambda *_: None)  # the projects of the pilot add nothing to this test
    services = build_services(settings)
    server = make_server("127.0.0.1", 0, create_app(services=services), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield server, services
    server.shutdown()
    thread.join(5)
    services.db.dispose()
    user_store._hasher = saved


def sign_in(chromium, base, username, width="desktop"):
    """Signed in with the demo's password; confirmation dialogs are accepted."""
    page = conftest.sign_in(chromium, base, username, **WIDTHS[width], password=password_of(username))
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def fits(page):
    """Nothing is wider than the window."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_committee_adds_town_approves_organization_starts_today(demo_site, chromium):
    server, services = demo_site
    base = f"http://127.0.0.1:{server.server_port}"
    year = this_year()

    director = sign_in(chromium, base, "xiangdong_director")
    director.click(".mainnav >> text=事项目录")
    assert f"{year}年度委托转移服务事项目录清单" in director.content()
    assert "居家养老照护服务" in director.content() and "elderly_home_care" not in director.inner_text("main")
    director.fill("#name", "独居老人探访")
    director.fill("#name_en", "Visits to elderly living alone")
    director.select_option("#service_field", "elderly")
    director.check('input[name="social_work"]')
    director.fill("#description", "每周上门探访独居老人一次，建立紧急联络机制")
    director.click('[data-testid="add-item"]')
    assert "“独居老人探访”已加入目录，待镇（街道）审批。" in director.content()
    item = director.locator("li", has_text="独居老人探访")
    assert item.locator('[data-testid="state"]').inner_text() == "待审批"
    director.screenshot(path=ARTIFACTS / "catalog_01_committee_desktop.png", full_page=True)

    # A duplicate is refused in words, and nothing is added.
    director.fill("#name", "独居老人探访")
    director.select_option("#service_field", "elderly")
    director.click('[data-testid="add-item"]')
    assert f"{year}年度目录中已有名为“独居老人探访”的事项" in director.content()
    assert director.locator("li", has_text="独居老人探访").count() == 1

    for width in WIDTHS:
        official = sign_in(chromium, base, "liushi_gov", width)
        official.click(".mainnav >> text=事项目录")
        assert "1 个事项待镇（街道）审批" in official.content()
        assert fits(official), width
        official.screenshot(path=ARTIFACTS / f"catalog_02_town_before_approval_{width}.png", full_page=True)
    official.click('[data-testid="approve"]')
    assert "目录已审批通过" in official.content()
    assert re.search(r"周建国 于 .+ 审批", official.inner_text('[data-testid="approval"]'))
    assert official.locator("li", has_text="独居老人探访").locator('[data-testid="state"]').inner_text() == "已审批"
    official.screenshot(path=ARTIFACTS / "catalog_03_town_approved_phone.png", full_page=True)

    official.click(".mainnav >> text=社会组织")
    assert "52330382MJ5100011N" in official.content() and "已注销" in official.content()
    assert fits(official)
    official.screenshot(path=ARTIFACTS / "catalog_04_register_phone.png", full_page=True)

    for width in WIDTHS:
        lead = sign_in(chromium, base, "sunshine_lead", width)
        lead.goto(f"{base}/instances/new")
        options = lead.locator("#item option").all_inner_texts()
        assert "象东社区 · 独居老人探访 · 养老服务 · 社工项目" in options
        assert not any(re.search(r"[a-z]+_[a-z]+", text) for text in options)  # names, never codes
        assert fits(lead), width
        lead.select_option("#item", label="象东社区 · 独居老人探访 · 养老服务 · 社工项目")
        lead.screenshot(path=ARTIFACTS / f"catalog_05_start_{width}.png", full_page=True)
    lead.fill("#title", "象东社区独居老人探访项目")
    lead.click('[data-testid="start"]')
    lead.wait_for_url(re.compile(r".*/instances/\d+$"))
    instance_id = int(lead.url.rsplit("/", 1)[1])
    with unit_of_work(services.session_factory, readonly=True) as session:
        instance = session.get(Instance, instance_id)
        assert (instance.title, instance.current_step, instance.started_at.year) == ("象东社区独居老人探访项目", 1, year)
        assert session.scalar(select(Instance.id).where(Instance.catalog_item_id == instance.catalog_item_id)) == instance_id

    director.goto(f"{base}/inbox")
    assert "象东社区独居老人探访项目" in director.content()
