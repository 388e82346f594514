"""Budgets in the web UI, in Chinese: the town sets and raises its budget (never below what is
committed), reads the execution page and its Excel file, and sees an earmark waiting for
its budget on its inbox and on the project page."""
from datetime import datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Job, Task
from engine.method import agreements, funds, payments
from engine.method.models import Budget, BudgetChange
from tests.drive import decide_purchase, drive_to, voted_choices, work

from .conftest import Client, build_web, start_project



@pytest.fixture
def web_any(services):
    """The web app on SQLite and on PostgreSQL."""
    return build_web(services)


def login(web, username):
    client = Client(web.app)
    assert client.login(username).status_code == 302
    return client


def budget_of(web, year):
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        budget = session.scalar(select(Budget).where(Budget.town_id == web.world.town.id, Budget.year == year))
        return None if budget is None else (budget.total_fen, budget.committed_fen)


def test_town_sets_and_raises_its_budget_and_bad_input_changes_nothing(web_any):
    web = web_any
    town = login(web, "town")
    page = town.get("/budgets?year=2026").get_data(as_text=True)
    assert "预算" in page and "2026年度预算" in page and "柳市镇" in page
    done = town.post("/budgets", {"town": web.world.town.id, "year": "2026", "total": "120,000", "note": "年初预算"})
    assert done.status_code == 303
    assert budget_of(web, 2026) == (12_000_000, 0)
    with unit_of_work(web.services.session_factory) as session:
        funds.earmark(session, 1, 1, web.world.town.id, 2026, 5_000_000, None)

    for form, field_error in [({"total": "49999"}, "已落实到项目的 50000.00 元"), ({"total": "十万"}, "金额"),
                              ({"total": "-1"}, "金额"), ({"year": "明年", "total": "1"}, "年份")]:
        refused = town.post("/budgets", {"town": web.world.town.id, "year": "2026", "back": "execution", **form})
        body = refused.get_data(as_text=True)
        assert refused.status_code == 422 and field_error in body, body
    assert budget_of(web, 2026) == (12_000_000, 5_000_000)

    raised = town.post("/budgets", {"town": web.world.town.id, "year": "2026", "total": "150000", "note": "追加",
                                    "back": "execution"})
    assert raised.status_code == 303 and raised.location.endswith(f"/budgets/{web.world.town.id}/2026")
    page = town.get(raised.location).get_data(as_text=True)
    assert "预算执行" in page and "¥150,000.00" in page and "¥100,000.00" in page  # total and remaining
    assert "¥120,000.00 → ¥150,000.00" in page and "追加" in page
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert [c.changed_by for c in session.scalars(select(BudgetChange))] == ["town", "town"]


def test_only_the_town_government_and_administrators_keep_budgets(web):
    with unit_of_work(web.services.session_factory) as session:
        funds.set_budget(session, web.world.town.id, 2026, 1000)
    committee = login(web, "committee")
    assert committee.get("/budgets").status_code == 403
    assert committee.get(f"/budgets/{web.world.town.id}/2026").status_code == 403
    assert committee.post("/budgets", {"town": web.world.town.id, "year": "2026", "total": "9"}).status_code == 403
    town = login(web, "town")
    other_town = web.world.community_b.town_id
    assert town.post("/budgets", {"town": other_town, "year": "2026", "total": "9"}).status_code == 403
    assert town.get(f"/budgets/{other_town}/2026.xlsx").status_code == 403
    assert budget_of(web, 2026) == (100_000, 0)
    assert "nav-budgets" not in committee.get("/inbox").get_data(as_text=True)
    admin = login(web, "admin")
    assert admin.post("/budgets", {"town": other_town, "year": "2026", "total": "9"}).status_code == 303


def paid_project(web, title, amount_fen, first_fen):
    """A project with its money earmarked, its agreement signed and the first installment paid."""
    instance_id = start_project(web, title)
    now = datetime(2026, 5, 8, 9, 30)
    with unit_of_work(web.services.session_factory) as session:
        funds.earmark(session, None, instance_id, web.world.town.id, 2026, amount_fen, now)
        draft = agreements.draft(session, None, instance_id, {}, amount_fen, now, installment_amounts=[
            ("on_signing", first_fen / 100), ("on_acceptance", (amount_fen - first_fen) / 100)])
        agreement = agreements.latest(session, instance_id)
        assert draft["number"] == agreement.number
        agreements.sign(session, agreement, "purchaser", "town", now)
        agreements.sign(session, agreement, "contractor", "orgstaff", now)
        payments.pay(session, None, instance_id, 1, now)
    return instance_id


def test_execution_page_and_excel_list_each_project_and_installment_in_chinese(web):
    with unit_of_work(web.services.session_factory) as session:
        funds.set_budget(session, web.world.town.id, 2026, 200_000, actor="town")
    paid_project(web, "象东社区银龄互助项目", 3_000_000, 900_000)
    town = login(web, "town")
    page = town.get(f"/budgets/{web.world.town.id}/2026").get_data(as_text=True)
    for text in ("象东社区银龄互助项目", "乐清社工服务中心", "首期（签约后）", "¥9,000.00", "¥30,000.00", "¥170,000.00",
                 "下载（Excel）"):
        assert text in page, text
    response = town.http.get(f"/budgets/{web.world.town.id}/2026.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(BytesIO(response.data))
    summary, projects = book.worksheets
    assert summary.title == "预算执行" and [c.value for c in summary["A"]][:2] == ["镇（街道）", "预算年度"]
    assert [row[1].value for row in summary.iter_rows()] == ["柳市镇", 2026, 200000, 30000, 9000, 170000]
    header = [c.value for c in projects[1]]
    assert header[:3] == ["项目", "社会组织", "决定金额（元）"] and "拨付日期" in header
    row = [c.value for c in projects[2]]
    assert row[:6] == ["象东社区银龄互助项目", "乐清社工服务中心", 30000, 30000, 9000, 21000]
    assert row[6] == "首期（签约后）" and row[7] == 9000 and row[8].date().isoformat() == "2026-05-08"


def test_an_earmark_waiting_for_the_budget_is_shown_in_chinese_and_the_town_can_decide_otherwise(web):
    year = web.services.runtime.clock().year
    instance_id = start_project(web, "象东社区助餐项目")
    task_id = drive_to(web.services, instance_id, "purchase_decision", voted_choices(30000))
    decide_purchase(web.services, web.world.users.town.id, task_id, purchase_amount=25000,
                    purchase_first_installment=5000, purchase_final_installment=20000)
    assert work(web.services)["waiting"] == 1
    town = login(web, "town")
    inbox = town.get("/inbox").get_data(as_text=True)
    assert "资金待落实：象东社区助餐项目" in inbox and f"柳市镇尚未设定{year}年度预算" in inbox and "¥25,000.00" in inbox
    assert "设定预算" in inbox and "另行决定" in inbox
    project = town.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "资金待落实" in project and "另行决定" in project
    org_view = login(web, "orgstaff").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "资金待落实" in org_view and "另行决定" not in org_view  # the organization reads, the town acts
    assert "资金待落实" not in login(web, "committee").get("/inbox").get_data(as_text=True)
    admin_incidents = login(web, "admin").get("/admin/incidents").get_data(as_text=True)
    assert "等待预算" in admin_incidents and "资金待落实：象东社区助餐项目" in admin_incidents

    with unit_of_work(web.services.session_factory) as session:
        funds.set_budget(session, web.world.town.id, year, 10_000)
    work(web.services)
    assert "剩余 ¥10,000.00" in town.get("/inbox").get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        job = session.scalar(select(Job).where(Job.topic == "funds_earmark", Job.instance_id == instance_id))
    assert login(web, "orgstaff").post(f"/budgets/waiting/{job.id}/decide-otherwise").status_code == 403
    back = town.post(f"/budgets/waiting/{job.id}/decide-otherwise")
    assert back.status_code == 303
    assert "另行决定" not in town.get("/inbox").get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.scalars(select(Task.bpmn_id).where(Task.instance_id == instance_id, Task.state == "ready")
                               ).all() == ["purchase_decision"]
    assert town.post(f"/budgets/waiting/{job.id}/decide-otherwise").status_code == 409


def test_the_purchase_form_refuses_an_amount_above_the_vote_and_uneven_installments_in_chinese(web):
    instance_id = start_project(web, "象东社区助浴项目")
    task_id = drive_to(web.services, instance_id, "purchase_decision", voted_choices(30000))
    town = login(web, "town")
    town.get(f"/tasks/{task_id}")
    form = {"purchase_buy": "1", "purchase_funding_source": "福彩公益金", "purchase_acceptance_criteria": "入户助浴 200 人次"}
    too_much = town.post(f"/tasks/{task_id}/complete", {**form, "purchase_amount": "300000",
                                                        "purchase_first_installment": "90000",
                                                        "purchase_final_installment": "210000"})
    assert too_much.status_code == 422
    assert "购买金额不得超过居民代表会议表决通过的申请书预算 30000.00 元" in too_much.get_data(as_text=True)
    uneven = town.post(f"/tasks/{task_id}/complete", {**form, "purchase_amount": "30000",
                                                      "purchase_first_installment": "9000",
                                                      "purchase_final_installment": "20000"})
    assert uneven.status_code == 422
    assert "各期款项合计 29000.00 元，与购买金额 30000.00 元不符" in uneven.get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Task, task_id).state == "ready"
    done = town.post(f"/tasks/{task_id}/complete", {**form, "purchase_amount": "30000",
                                                    "purchase_first_installment": "9000",
                                                    "purchase_final_installment": "21000"})
    assert done.status_code == 302
