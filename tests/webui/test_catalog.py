"""The catalog and register pages: the committee adds and retires items, the town approves
and keeps the register, the start page lists items by their Chinese names."""
import re

from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.core.models import CatalogItem, Organization
from engine.method.catalog import this_year

YEAR = this_year()
NEW_ITEM = {"name": "独居老人探访", "name_en": "Visits to elderly living alone", "service_field": "elderly",
            "social_work": "1", "description": "每周上门探访一次"}


def count_items(web):
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        return session.scalar(select(func.count()).select_from(CatalogItem))


def test_committee_adds_an_item_town_approves_organization_sees_its_name(web, as_user):
    committee = as_user("committee")
    page = committee.get("/catalog/", follow_redirects=True).get_data(as_text=True)
    assert f"{YEAR}年度委托转移服务事项目录清单" in page and "居家养老服务" in page
    url = f"/catalog/{web.world.community.id}/{YEAR}"
    response = committee.post(f"{url}/items", NEW_ITEM)
    assert response.status_code == 303
    page = committee.get(url).get_data(as_text=True)
    assert "独居老人探访" in page and "待审批" in page and "养老服务" in page
    assert 'data-testid="approve"' not in page  # the committee does not approve its own catalog

    org = as_user("orgstaff")
    assert "独居老人探访" not in org.get("/instances/new").get_data(as_text=True)

    town = as_user("town")
    page = town.get(url).get_data(as_text=True)
    assert "1 个事项待镇（街道）审批" in page and 'data-testid="add-item"' not in page
    assert town.post(f"{url}/approve").status_code == 303
    page = town.get(url).get_data(as_text=True)
    assert "待审批" not in page and re.search(r"town 于 .* 审批", page)

    start = org.get("/instances/new").get_data(as_text=True)
    assert "象东社区 · 独居老人探访 · 养老服务 · 社工项目" in start
    assert f"{YEAR}-01" not in start and "E01" not in start  # names, never codes


def test_a_changed_item_shows_as_changed(web, as_user):
    committee = as_user("committee")
    response = committee.post(f"/catalog/items/{web.world.item.id}/edit", {**NEW_ITEM, "name": "居家养老服务（扩展）"})
    assert response.status_code == 303
    page = committee.get(f"/catalog/{web.world.community.id}/{YEAR}").get_data(as_text=True)
    assert "居家养老服务（扩展）" in page and "审批后已修改" in page


def test_bad_input_is_shown_in_chinese_and_changes_nothing(web, as_user):
    committee = as_user("committee")
    before = count_items(web)
    response = committee.post(f"/catalog/{web.world.community.id}/{YEAR}/items", {**NEW_ITEM, "name": "居家养老服务"})
    assert response.status_code == 422
    assert f"{YEAR}年度目录中已有名为“居家养老服务”的事项" in response.get_data(as_text=True)
    response = committee.post(f"/catalog/{web.world.community.id}/{YEAR}/items", {**NEW_ITEM, "code": "E01"})
    assert response.status_code == 422 and "编号 E01 已在象东社区的目录中使用" in response.get_data(as_text=True)
    assert count_items(web) == before


def test_people_outside_the_scope_cannot_edit(web, as_user):
    before = count_items(web)
    other = as_user("committee_b")
    assert other.post(f"/catalog/{web.world.community.id}/{YEAR}/items", NEW_ITEM).status_code == 404
    assert other.post(f"/catalog/items/{web.world.item.id}/retire").status_code == 404
    town = as_user("town")
    refused = town.post(f"/catalog/items/{web.world.item.id}/retire")
    assert refused.status_code == 403 and "只有象东社区居（管）委会可以维护本社区的目录" in refused.get_data(as_text=True)
    assert as_user("orgstaff").get(f"/catalog/{web.world.community.id}/{YEAR}").status_code == 404
    assert as_user("committee").post(f"/catalog/{web.world.community.id}/{YEAR}/approve").status_code == 403
    assert count_items(web) == before


def test_retired_items_are_not_offered(web, as_user):
    assert as_user("committee").post(f"/catalog/items/{web.world.item.id}/retire").status_code == 303
    org = as_user("orgstaff")
    assert "居家养老服务" not in org.get("/instances/new").get_data(as_text=True)
    assert org.post("/instances/new", {"item": f"{web.world.org.id}:{web.world.item.id}"}).status_code == 404


def test_the_town_keeps_the_register_with_checked_credit_codes(web, as_user):
    town = as_user("town")
    assert "乐清社工服务中心" in town.get("/organizations/").get_data(as_text=True)
    form = {"name": "柳市镇朝阳社工服务社", "credit_code": "52330382MJ5100011X", "status": "active",
            "service_fields": ["elderly", "women"], "max_concurrent_projects": "3", "town_id": str(web.world.town.id)}
    refused = town.post("/organizations/new", form)
    assert refused.status_code == 422
    assert "校验码（第18位）应为 N，而不是 X" in refused.get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == 2
    saved = town.post("/organizations/new", {**form, "credit_code": "52330382MJ5100011N"})
    assert saved.status_code == 303
    page = town.get(saved.location).get_data(as_text=True)
    assert "52330382MJ5100011N" in page and "已登记（正常）" in page
    duplicate = town.post("/organizations/new", {**form, "name": "另一家", "credit_code": "52330382MJ5100011N"})
    assert duplicate.status_code == 422 and "已使用此统一社会信用代码登记" in duplicate.get_data(as_text=True)
    assert as_user("committee").get("/organizations/").status_code == 403
    assert as_user("orgstaff").post("/organizations/new", form).status_code == 422  # no town of theirs to choose
