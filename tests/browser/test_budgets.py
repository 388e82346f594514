"""Budgets in the browser, in Chinese, on a database made as `make run` makes it (the demo).

The town official sets this year's budget; the community committee adds a service item to
this year's catalog and the town approves it; an organization starts a project on that item
today in the browser and it runs to payment (the steps in between are done through the engine, as the
people concerned would); a second project then finds the budget used up, the town reads
the notice on its inbox, raises the budget on the budget page and the project goes on by
itself. Screenshots at 1366 px and 390 px; no page is wider than the window.
"""
import re
import threading
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.method.driver import default_choices, ready_tasks
from engine.config import load_settings
from engine.core import users as user_store
from engine.core.db import unit_of_work
from engine.core.models import Instance, Task, Town
from engine.method import demo as pilot
from engine.method import funds
from tests.conftest import make_services
from tests.drive import drive_to, work
from webui import create_app
from workers.demo import run_demo

from . import conftest
from .conftest import ARTIFACTS, FAST_HASHER

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WIDTHS = {"wide": 1366, "phone": 390}


@pytest.fixture(scope="module")
def demo_live(tmp_path_factory):
    """The app on a database the demo made (as `make run` does), on a free port."""
    saved, user_store._hasher = user_store._hasher, FAST_HASHER
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'sanshe.db'}"
    run_demo(load_settings(database_url=url), projects=1, echo=lambda *_: None)
    services = make_services(url)
    app = create_app(services=services)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield type("Live", (), {"url": f"http://127.0.0.1:{server.server_port}", "services": services})
    server.shutdown()
    thread.join(5)
    services.db.dispose()
    user_store._hasher = saved


def sign_in(chromium, live, username, width):
    """Signed in with the demo's password."""
    return conftest.sign_in(chromium, live.url, username, width, password=pilot.password_of(username))


def shoot(page, name):
    """Screenshot the page; nothing on it may be wider than the window."""
    page.screenshot(path=ARTIFACTS / f"budgets_{name}.png", full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: {overflow}px wider than the window"


def choices_for(amount):
    choices = default_choices(panel=("xiangdong_panel1", "xiangdong_panel2", "xiangdong_panel3"))
    first = amount * 3 // 10
    choices.update(application_budget_total=amount, purchase_amount=amount, purchase_first_installment=first,
                   purchase_final_installment=amount - first)
    return choices


def start_in_browser(chromium, live, username, item_name, title):
    page = sign_in(chromium, live, username, WIDTHS["wide"])
    page.goto(f"{live.url}/instances/new")
    option = page.locator("#item option").filter(has_text=re.compile(item_name))
    page.select_option("#item", option.first.get_attribute("value"))
    page.fill("#title", title)
    page.click('[data-testid="start"]')
    page.wait_for_url(re.compile(r".*/instances/\d+$"))
    page.context.close()
    return int(page.url.rsplit("/", 1)[1])


def add_catalog_item(chromium, live, name):
    """The committee adds ``name`` (elderly care) to this year's catalog; the town approves it."""
    director = sign_in(chromium, live, "xiangdong_director", WIDTHS["wide"])
    director.click(".mainnav >> text=事项目录")
    director.fill("#name", name)
    director.select_option("#service_field", "elderly")
    director.fill("#description", "每周上门探访独居老人一次，建立紧急联络机制")
    director.click('[data-testid="add-item"]')
    assert f"“{name}”已加入目录，待镇（街道）审批。" in director.content()
    director.context.close()
    official = sign_in(chromium, live, "liushi_gov", WIDTHS["phone"])
    official.click(".mainnav >> text=事项目录")
    official.click('[data-testid="approve"]')
    official.wait_for_selector("text=目录已审批通过")
    shoot(official, "catalog_approved_phone")
    official.context.close()


def test_a_project_started_today_runs_to_payment_and_one_waits_for_the_budget_until_the_town_raises_it(
        demo_live, chromium):
    live = demo_live
    year = live.services.runtime.clock().year
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        town_id = session.scalar(select(Town.id).where(Town.code == "liushi"))

    # The town official sets this year's budget on the budget page.
    town = sign_in(chromium, live, "liushi_gov", WIDTHS["wide"])
    town.click('[data-testid="nav-budgets"]')
    assert f"{year}年度预算" in town.content() and "柳市镇" in town.content()
    town.fill("#budget-year", str(year))
    town.fill("#budget-total", "60000")
    town.fill("#budget-note", "年度购买服务预算")
    town.click('[data-testid="save-budget"]')
    assert f"{year}年度预算已调整为" in town.locator(".flash").inner_text()
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        assert funds.balance(session, town_id, year)["total_fen"] == 6_000_000

    # The committee adds an item to this year's catalog, the town approves it; an organization
    # starts a project on it today, and it runs to its end, both installments paid.
    add_catalog_item(chromium, live, "独居老人探访")
    first = start_in_browser(chromium, live, "sunshine_lead", "独居老人探访", "象东社区银龄关爱项目")
    assert drive_to(live.services, first, None, choices_for(60000)) is None
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        assert session.get(Instance, first).status == "completed"
        assert funds.balance(session, town_id, year)["paid_fen"] == 6_000_000

    town.goto(f"{live.url}/instances/{first}")
    text = town.locator("main").inner_text()
    assert "首期（签约后）" in text and "on_signing" not in text and "on_acceptance" not in text
    town.goto(f"{live.url}/budgets/{town_id}/{year}")
    text = town.locator("main").inner_text()
    for words in ("预算执行", "象东社区银龄关爱项目", "柳市镇阳光社会工作服务中心", "首期（签约后）", "尾款（验收后）",
                  "¥60,000.00", "¥18,000.00", "¥42,000.00", "¥0.00", "¥600,000.00 → ¥60,000.00"):
        assert words in text, words
    assert "sunshine" not in text and "liushi_gov" not in text  # names, not codes
    shoot(town, "execution_wide")
    download = town.request.get(f"{live.url}/budgets/{town_id}/{year}.xlsx")
    book = load_workbook(BytesIO(download.body()))
    assert book.worksheets[1]["A2"].value == "象东社区银龄关爱项目" and book.worksheets[1]["G1"].value == "拨付期次"

    # A second project finds the budget used up: the earmark waits, the town is told.
    second = start_in_browser(chromium, live, "heshilao_lead", "邻里纠纷调解", "象东社区邻里和事佬项目")
    assert drive_to(live.services, second, None, choices_for(30000)) is None  # nothing waits for a person: the earmark waits
    for name, width in WIDTHS.items():
        page = sign_in(chromium, live, "liushi_gov", width)
        notice = page.locator('[data-testid="budget-notice"]')
        assert notice.count() == 1
        words = notice.inner_text()
        assert "资金待落实：象东社区邻里和事佬项目" in words and f"{year}年度预算剩余 ¥0.00" in words
        assert "¥30,000.00" in words and "追加预算" in words and "另行决定" in words
        shoot(page, f"inbox_notice_{name}")
        if name == "phone":
            page.goto(f"{live.url}/instances/{second}")
            assert "资金待落实" in page.locator("main").inner_text()
            shoot(page, "project_notice_phone")
            page.goto(f"{live.url}/budgets/{town_id}/{year}")
            shoot(page, "execution_phone")
        page.context.close()

    # The town raises the budget from the notice; the project goes on by itself.
    town.goto(f"{live.url}/inbox")
    town.click('[data-testid="set-budget-link"]')
    town.fill("#budget-total", "50000")  # below what is committed: refused, nothing changed
    town.click('[data-testid="save-budget"]')
    assert "预算不得低于已落实到项目的 60000.00 元" in town.locator('[data-testid="budget-error"]').inner_text()
    town.fill("#budget-total", "90000")
    town.fill("#budget-note", "追加邻里调解项目资金")
    town.click('[data-testid="save-budget"]')
    town.wait_for_url(re.compile(rf".*/budgets/{town_id}/{year}$"))
    assert "¥60,000.00 → ¥90,000.00" in town.locator('[data-testid="budget-changes"]').inner_text()
    work(live.services)
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        assert [t.bpmn_id for t in ready_tasks(session, second)] == ["sign_purchaser"]
        assert session.scalars(select(Task).where(Task.instance_id == second, Task.state == "ready")).all()
    town.goto(f"{live.url}/instances/{second}")
    assert "资金待落实" not in town.content()
    town.goto(f"{live.url}/budgets/{town_id}/{year}")
    assert "象东社区邻里和事佬项目" in town.locator('[data-testid="execution-table"]').inner_text()
    assert "¥0.00" in town.locator('[data-testid="remaining"]').inner_text()
    shoot(town, "execution_raised_wide")
    town.context.close()
