"""The city's civil affairs bureau (市民政局): every town's projects, budgets and mining, read-only."""
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.core.models import CatalogItem, Event, Instance, Organization, Task, User
from engine.method import funds
from engine.method.driver import add_user, default_choices
from engine.method.models import Budget
from tests.drive import drive_to

from .conftest import start_project


@pytest.fixture
def city(web, as_user):
    with unit_of_work(web.services.session_factory) as session:
        add_user(session, "city", "city_bureau", "global", 0)
        funds.set_budget(session, web.world.town.id, 2026, "500000", actor="town", now=web.services.runtime.clock())
    from tests.factories import set_all_passwords

    with unit_of_work(web.services.session_factory) as session:
        set_all_passwords(session)
    return as_user("city")


def _counts(web):
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        return tuple(session.scalar(select(func.count()).select_from(model)) for model in (Instance, Task, Event, Budget, Organization, User, CatalogItem))


def test_the_bureau_reads_every_town(web, city, as_user):
    instance_id = start_project(web, title="象东居家养老")
    drive_to(web.services, instance_id, "write_application", default_choices())
    page = city.get("/instances", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "象东居家养老" in page
    assert 'name="town"' in page and web.world.town.name in page and "盐盆街道" in page  # every town to pick
    in_town = city.get(f"/instances?town={web.world.town.id}").get_data(as_text=True)
    assert "象东居家养老" in in_town
    elsewhere = city.get("/instances?town=999").get_data(as_text=True)
    assert "象东居家养老" not in elsewhere
    assert city.get(f"/instances/{instance_id}").status_code == 200
    mining = city.get("/mining/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "按镇（街道）比较" in mining or "按镇比较" in mining
    assert "流程挖掘" in mining and "预算" in mining  # both in the menu
    budgets = city.get("/budgets?year=2026", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert web.world.town.name in budgets
    assert 'action="/budgets"' not in budgets  # no form to set a budget
    execution = city.get(f"/budgets/{web.world.town.id}/2026")
    assert execution.status_code == 200 and 'name="total"' not in execution.get_data(as_text=True)
    book = city.http.get(f"/budgets/{web.world.town.id}/2026.xlsx")
    assert book.status_code == 200 and load_workbook(io.BytesIO(book.data)).sheetnames
    assert city.http.get("/mining/report.xlsx").status_code == 200


def test_the_bureau_changes_nothing(web, city):
    instance_id = start_project(web, title="盐城青少年成长")
    drive_to(web.services, instance_id, "write_application", default_choices())
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        task_id = session.scalar(select(Task.id).where(Task.instance_id == instance_id, Task.state == "ready"))
    before = _counts(web)
    town = str(web.world.town.id)
    attempts = [
        ("/budgets", {"town": town, "year": "2026", "total": "900000"}),
        (f"/instances/{instance_id}/terminate", {"reason": "不再需要"}),
        (f"/instances/{instance_id}/coordination", {"issue": "纠纷"}),
        ("/instances/new", {"item": str(web.world.item.id), "title": "市局自建项目"}),
        (f"/tasks/{task_id}/claim", {}),
        (f"/tasks/{task_id}/complete", {"title": "x"}),
        (f"/catalog/{web.world.community.id}/2026/approve", {}),
        (f"/catalog/{web.world.community.id}/2026/items", {"name": "新事项", "field": "elderly"}),
        ("/organizations/new", {"name": "市局组织", "status": "active", "max_concurrent_projects": "3",
                                "town_id": town, "service_fields": "elderly"}),
        ("/admin/users", {"username": "x", "display_name": "x", "password": "long-enough-123"}),
    ]
    for url, data in attempts:
        response = city.post(url, data)
        assert 400 <= response.status_code < 500, (url, response.status_code)
    assert _counts(web) == before
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        budget, project = funds.find_budget(session, web.world.town.id, 2026), session.get(Instance, instance_id)
        assert budget is not None and budget.total_fen == 500000 * 100
        assert project is not None and project.status == "running"


def test_the_bureau_has_no_inbox_work_and_is_named_in_chinese(web, city):
    page = city.get("/inbox", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "city_bureau" not in page.split("<main", 1)[-1]
