"""The Yueqing pilot as demo data: towns, communities, 22 catalog items, organizations, people.

Figures follow the 2014 pilot report (see DOMAIN.md): Xiangdong (象东社区, Liushi town,
rural, 12 villages, 20,000+ residents) and Yancheng (盐城社区, Yanpen sub-district, urban).
Every demo account's password is ``demo-<username>``.
"""
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.method import catalog, funds
from engine.method.models import OrganizationBranch
from engine.core import affiliations, users
from engine.core.access import get_user
from engine.core.models import CatalogItem, Community, Instance, Organization, RoleGrant, Town, User

TOWNS = [("liushi", "柳市镇", "Liushi", "town"), ("yanpen", "盐盆街道", "Yanpen", "subdistrict")]
COMMUNITIES = [("xiangdong", "象东社区", "Xiangdong", "liushi", "rural", 20500),
               ("yancheng", "盐城社区", "Yancheng", "yanpen", "urban", 8600)]

# (community, key, name, English name, service field, social work)
CATALOG = [
    ("xiangdong", "elderly_home_care", "居家养老照护服务", "Home care for the elderly", "elderly", True),
    ("xiangdong", "elderly_day_centre", "老年日间照料", "Day care centre for the elderly", "elderly", False),
    ("xiangdong", "left_behind_children", "留守儿童关爱", "Care for left-behind children", "youth", True),
    ("xiangdong", "youth_summer", "青少年暑期课堂", "Summer classes for youth", "youth", False),
    ("xiangdong", "migrant_integration", "新居民融入服务", "Integration of migrant residents", "vulnerable", False),
    ("xiangdong", "neighbour_mediation", "邻里纠纷调解", "Neighbourhood dispute mediation", "mediation", False),
    ("xiangdong", "village_culture", "村落文化活动", "Village culture activities", "culture", False),
    ("xiangdong", "women_skills", "妇女技能培训", "Skills training for women", "women", False),
    ("xiangdong", "disabled_rehab", "残疾人康复支持", "Rehabilitation support for the disabled", "vulnerable", True),
    ("xiangdong", "environment_volunteers", "环境卫生志愿服务", "Environmental volunteer service", "other", False),
    ("xiangdong", "elderly_meals", "老年助餐服务", "Meals for the elderly", "elderly", False),
    ("xiangdong", "legal_aid", "法律咨询服务", "Legal advice", "mediation", False),
    ("yancheng", "women_children_family", "妇女儿童家庭服务", "Family service for women and children", "women", True),
    ("yancheng", "elderly_companions", "空巢老人陪伴", "Companions for empty-nest elderly", "elderly", True),
    ("yancheng", "community_culture", "社区文化艺术节", "Community culture festival", "culture", False),
    ("yancheng", "youth_after_school", "青少年课后托管", "After-school care for youth", "youth", False),
    ("yancheng", "property_mediation", "物业纠纷调解", "Property dispute mediation", "mediation", False),
    ("yancheng", "vulnerable_relief", "困难群众帮扶", "Support for people in hardship", "vulnerable", False),
    ("yancheng", "health_promotion", "健康促进讲座", "Health promotion talks", "other", False),
    ("yancheng", "women_entrepreneurs", "女性创业指导", "Coaching for women entrepreneurs", "women", False),
    ("yancheng", "reading_corner", "社区阅读角", "Community reading corner", "culture", False),
    ("yancheng", "volunteer_hub", "志愿者服务站", "Volunteer hub", "other", False),
]

# (code, name, English name, town, service fields, unified social credit code, registration
# status, max concurrent, lead username). The credit codes are made up but valid (check
# character per GB 32100-2015): civil affairs (5), social group (1) or private non-enterprise
# unit (2), Yueqing (330382).
ORGANIZATIONS = [
    ("sunshine", "柳市镇阳光社会工作服务中心", "Liushi Sunshine Social Work Centre", "liushi",
     ["elderly", "youth", "vulnerable"], "52330382MJ5100011N", "active", 4, "sunshine_lead"),
    ("heshilao", "乐清市和事佬调解协会", "Yueqing Peacemakers Mediation Association", "liushi",
     ["mediation"], "51330382MJ5100029K", "active", 3, "heshilao_lead"),
    ("growth", "柳市镇青少年成长服务社", "Liushi Youth Growth Service", "liushi",
     ["youth", "culture"], "52330382MJ5100037B", "active", 2, "growth_lead"),
    ("xinjiayuan", "乐清市心家园社会工作服务中心", "Yueqing Heart Home Social Work Centre", "yanpen",
     ["women", "elderly", "vulnerable"], "52330382MJ51000456", "active", 4, "xinjiayuan_lead"),
    ("yanpen_arts", "盐盆街道社区文化艺术团", "Yanpen Community Arts Troupe", "yanpen",
     ["culture"], "51330382MJ51000534", "active", 3, "arts_lead"),
    ("old_club", "柳市老年协会（已停办）", "Liushi Elders' Club (dissolved)", "liushi",
     ["elderly"], "51330382MJ5100061Y", "deregistered", 2, None),
    ("new_group", "盐城邻里互助小组（未登记）", "Yancheng Neighbours' Group (unregistered)", "yanpen",
     ["elderly", "culture"], None, "unregistered", 2, None),
]
# Branches of the organizations: (organization, branch name, address).
BRANCHES = [
    ("sunshine", "阳光社工象东服务站", "柳市镇象东社区居民活动中心二楼"),
    ("xinjiayuan", "心家园盐城社区服务点", "盐盆街道盐城社区服务中心一楼"),
]

REPRESENTATIVES_PER_COMMUNITY = 9

# Display names of the demo's people (the username stays the sign-in name).
NAMES = {
    "admin": "系统管理员",
    "liushi_gov": "周建国", "liushi_supervisor": "林慧敏", "yanpen_gov": "郑立新", "yanpen_supervisor": "黄晓燕",
    "xiangdong_director": "陈志强", "xiangdong_committee": "王丽华",
    "yancheng_director": "张海波", "yancheng_committee": "李秀英",
    "sunshine_lead": "吴晓东", "sunshine_staff": "徐静", "heshilao_lead": "赵德明", "heshilao_staff": "钱美玲",
    "growth_lead": "孙宇航", "growth_staff": "胡佳琪", "xinjiayuan_lead": "朱文静", "xinjiayuan_staff": "高俊杰",
    "arts_lead": "何雅婷", "yanpen_arts_staff": "罗晓峰",
}
REPRESENTATIVE_NAMES = {
    "xiangdong": ["陈美华", "王建平", "李金花", "张国庆", "刘桂芳", "杨永福", "黄素珍", "周小军", "吴春燕"],
    "yancheng": ["郑明辉", "谢秀兰", "许文斌", "蔡玉梅", "潘志刚", "叶淑芬", "余海涛", "沈丽娟", "卢建华"],
}
PANEL_NAMES = {
    "xiangdong": ["邱红梅", "柳市镇民政办 戴国平", "温州大学 傅晓琳 教授"],
    "yancheng": ["蒋丽萍", "盐盆街道社会事务科 韩志勇", "乐清市社工协会 曹文华"],
}
# Ties to organizations, as the people pages record them: (username, organization, kind,
# title, since). Staff are employed; the ninth representative of each community volunteers
# with a local organization and the third panel member advises one, so each stands aside
# (recusal) when that organization applies.
AFFILIATIONS = [
    ("sunshine_lead", "sunshine", "employment", "项目主管", "2012-05-01"),
    ("sunshine_staff", "sunshine", "employment", "社工", "2013-03-01"),
    ("heshilao_lead", "heshilao", "employment", "会长", "2010-09-01"),
    ("heshilao_staff", "heshilao", "employment", "调解员", "2012-01-01"),
    ("growth_lead", "growth", "employment", "负责人", "2013-06-01"),
    ("growth_staff", "growth", "employment", "社工", "2013-09-01"),
    ("xinjiayuan_lead", "xinjiayuan", "employment", "主任", "2011-04-01"),
    ("xinjiayuan_staff", "xinjiayuan", "employment", "社工", "2013-02-01"),
    ("arts_lead", "yanpen_arts", "employment", "团长", "2009-10-01"),
    ("yanpen_arts_staff", "yanpen_arts", "employment", "干事", "2012-07-01"),
    ("xiangdong_rep9", "sunshine", "membership", "志愿者", "2013-01-01"),
    ("yancheng_rep9", "xinjiayuan", "membership", "志愿者", "2013-01-01"),
    ("xiangdong_panel3", "growth", "membership", "顾问", "2012-01-01"),
]


def password_of(username: str) -> str:
    return f"demo-{username}"


def has_data(session: Session) -> bool:
    """True when the database already holds towns or project instances."""
    return bool(session.scalar(select(func.count()).select_from(Town))
                or session.scalar(select(func.count()).select_from(Instance)))


def _person(session: Session, accounts: list[tuple[str, str, str]], username: str, display_name: str,
            grants: list[tuple[str, int]]) -> User:
    """An account with its roles; its display name is the demo's Chinese name when it has one."""
    display_name = NAMES.get(username) or display_name
    user = users.create_user(session, username, password_of(username), display_name)
    for role, scope_id in grants:
        users.grant_role(session, user, role, scope_id)
    accounts.append((username, display_name, ", ".join(role for role, _ in grants)))
    return user


def budget_years(today: date, first: int = 2014) -> range:
    """The years the demo gives budgets: the pilot's history up to today's year and the next,
    so a project started today is funded (and one that runs into the new year too)."""
    return range(first, max(first, today.year) + 2)


def load_pilot(session: Session, budget_years: Iterable[int] = (2014, 2015, 2016), budget_yuan: int = 600_000,
               catalog_year: int | None = None) -> dict[str, Any]:
    """Create the pilot's places, catalog, organizations, people and budgets.

    The 22 catalog items make up each community's catalog of ``catalog_year`` (default:
    this year), approved by the town government.

    Returns ``{"towns", "communities", "items", "orgs"}`` (code -> id) and ``accounts``
    (username, display name, roles).
    """
    towns: dict[str, int] = {}
    communities: dict[str, int] = {}
    items: dict[str, int] = {}
    orgs: dict[str, int] = {}
    accounts: list[tuple[str, str, str]] = []
    for code, name, name_en, kind in TOWNS:
        town = Town(code=code, name=name, name_en=name_en, kind=kind)
        session.add(town)
        session.flush()
        towns[code] = town.id
        for year in budget_years:
            funds.set_budget(session, town.id, year, budget_yuan, actor="admin", note="演示数据")
    for code, name, name_en, town, kind, population in COMMUNITIES:
        community = Community(code=code, name=name, name_en=name_en, town_id=towns[town], kind=kind,
                              population=population)
        session.add(community)
        session.flush()
        communities[code] = community.id
    catalog_year = catalog_year or catalog.this_year()
    numbers: dict[str, int] = {}
    for community, key, name, name_en, field, social_work in CATALOG:
        # Items are numbered in their catalog (2026-01, 2026-02 ...); the key names them in code.
        numbers[community] = numbers.get(community, 0) + 1
        item = CatalogItem(community_id=communities[community], year=catalog_year,
                           code=f"{catalog_year}-{numbers[community]:02d}", name=name,
                           name_en=name_en, service_field=field, social_work=social_work, revision=1,
                           updated_by="admin")
        session.add(item)
        session.flush()
        items[key] = item.id
    for code, name, name_en, town, fields, credit_code, status, limit, lead in ORGANIZATIONS:
        org = Organization(code=code, name=name, name_en=name_en, town_id=towns[town], service_fields=fields,
                           credit_code=credit_code, status=status, max_concurrent_projects=limit)
        session.add(org)
        session.flush()
        orgs[code] = org.id
        if lead:
            _person(session, accounts, lead, f"{name} 项目负责人", [("social_organization", org.id)])
            _person(session, accounts, f"{code}_staff", f"{name} 社工", [("social_organization", org.id)])

    _person(session, accounts, "admin", "系统管理员", [("administrator", 0)])
    # The city's civil affairs bureau, which set the pilot up: reads every town, changes nothing.
    _person(session, accounts, "city_bureau", "乐清市民政局 社会工作科", [("city_bureau", 0)])
    for code, name, _, _ in TOWNS:
        _person(session, accounts, f"{code}_gov", f"{name} 政府采购负责人", [("town_government", towns[code])])
        _person(session, accounts, f"{code}_supervisor", f"{name} 社会工作督导", [("supervisor", towns[code])])
    for code, name, _, town, _, _ in COMMUNITIES:
        cid = communities[code]
        _person(session, accounts, f"{code}_director", f"{name} 居委会主任", [("community_committee", cid)])
        _person(session, accounts, f"{code}_committee", f"{name} 居委会委员", [("community_committee", cid)])
        for n in range(1, REPRESENTATIVES_PER_COMMUNITY + 1):
            _person(session, accounts, f"{code}_rep{n}", REPRESENTATIVE_NAMES[code][n - 1],
                    [("resident_representative", cid)])
        for n, label in enumerate(PANEL_NAMES[code], start=1):
            _person(session, accounts, f"{code}_panel{n}", label, [("evaluation_panel", cid)])
    for username, org_code, kind, title, since in AFFILIATIONS:
        affiliations.add(session, get_user(session, username), orgs[org_code], kind, since, title=title)
    session.flush()
    for org_code, branch_name, address in BRANCHES:
        session.add(OrganizationBranch(organization_id=orgs[org_code], name=branch_name, address=address))
    for code, *_ in TOWNS:
        official = get_user(session, f"{code}_gov")
        for community_code, *_rest, town, _kind, _population in COMMUNITIES:
            if town == code:
                catalog.approve(session, official, communities[community_code], catalog_year)
    session.flush()
    return {"towns": towns, "communities": communities, "items": items, "orgs": orgs, "accounts": accounts}


def members_of(session: Session, role: str, community_id: int) -> list[str]:
    return list(session.scalars(
        select(User.username).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == role, RoleGrant.scope_type == "community", RoleGrant.scope_id == community_id)
        .order_by(User.username)))
