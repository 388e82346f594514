"""The register of social organizations on SQLite and PostgreSQL, and step 1's screening
reading it."""
import pytest
from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.core.models import Organization, Town, User
from engine.errors import ForbiddenError, NotFoundError, ValidationError
from engine.method import eligibility, register
from engine.method.models import OrganizationBranch
from tests.factories import add_user, make_world

CODE = "52330382MJ5100011N"
SUNRISE = {"name": "柳市镇朝阳社工服务社", "credit_code": CODE, "status": "active", "service_fields": ["elderly", "women"],
           "max_concurrent_projects": "3"}


@pytest.fixture
def world(services):
    with unit_of_work(services.session_factory) as session:
        world = make_world(session)
        other_town = Town(code="yanpen", name="盐盆街道")
        session.add(other_town)
        session.flush()
        world.other_town = other_town
        add_user(session, "yanpen_gov", "town_government", "town", other_town.id)
    return world


def act(services, username, fn, *args):
    with unit_of_work(services.session_factory) as session:
        return fn(session, session.scalar(select(User).where(User.username == username)), *args)


def organizations(services):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return session.execute(select(Organization.id, Organization.name, Organization.credit_code,
                                      Organization.status, Organization.service_fields)
                               .order_by(Organization.id)).all()


def screen(services, world, org_id):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return eligibility.screen_applicant(session, world.item.id, org_id)


def test_the_town_registers_an_organization_and_the_screening_reads_it(services, world):
    org = act(services, "town", register.register, {**SUNRISE, "credit_code": " 52330382mj5100011n ", "town_id": world.town.id})
    assert (org.credit_code, org.code, org.town_id) == (CODE, CODE, world.town.id)
    assert screen(services, world, org.id)["eligible"] is True

    act(services, "town", register.update, org.id, {**SUNRISE, "status": "suspended", "town_id": world.town.id})
    assert screen(services, world, org.id)["reasons"] == ["not active"]
    act(services, "town", register.update, org.id, {**SUNRISE, "service_fields": ["women"], "town_id": world.town.id})
    assert "do not cover 'elderly'" in screen(services, world, org.id)["reasons"][0]
    act(services, "town", register.update, org.id, {**SUNRISE, "status": "unregistered", "town_id": world.town.id})
    assert screen(services, world, org.id)["reasons"][0] == "not registered"


def test_branches_and_staff(services, world):
    act(services, "town", register.add_branch, world.org.id, "象东服务站", "象东社区活动中心")
    with pytest.raises(ValidationError, match="already has a branch"):
        act(services, "town", register.add_branch, world.org.id, "象东服务站", "")
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert [b.name for b in register.branches(session, world.org.id)] == ["象东服务站"]
        assert [p.username for p in register.staff(session, world.org.id)] == ["orgstaff"]
        branch_id = session.scalar(select(OrganizationBranch.id))
    with pytest.raises(NotFoundError):
        act(services, "yanpen_gov", register.remove_branch, world.org.id, branch_id)
    act(services, "town", register.remove_branch, world.org.id, branch_id)


@pytest.mark.parametrize("values, field, words", [
    ({"credit_code": "52330382MJ5100011X"}, "credit_code", "should be N, not X"),
    ({"credit_code": "52330382MJ51000"}, "credit_code", "18 characters"),
    ({"name": ""}, "name", "registered name"),
    ({"status": "thriving"}, "status", "registration status"),
    ({"service_fields": ["gardening"]}, "service_fields", "from the list"),
    ({"max_concurrent_projects": "0"}, "max_concurrent_projects", "from 1 to"),
])
def test_bad_entries_are_refused_with_the_reason_and_nothing_changes(services, world, values, field, words):
    before = organizations(services)
    with pytest.raises(ValidationError) as refused:
        act(services, "town", register.register, {**SUNRISE, "town_id": world.town.id, **values})
    assert words in refused.value.errors[field][0]
    assert organizations(services) == before


def test_a_credit_code_belongs_to_one_organization(services, world):
    act(services, "town", register.register, {**SUNRISE, "town_id": world.town.id})
    before = organizations(services)
    with pytest.raises(ValidationError) as refused:
        act(services, "town", register.register, {**SUNRISE, "name": "另一家", "town_id": world.town.id})
    assert "柳市镇朝阳社工服务社 is already registered with this code" in refused.value.errors["credit_code"][0]
    with pytest.raises(ValidationError):  # nor may an existing organization take it
        act(services, "town", register.update, world.org.id, {**SUNRISE, "town_id": world.town.id})
    assert organizations(services) == before


def test_only_the_towns_government_keeps_its_register(services, world):
    before = organizations(services)
    with pytest.raises(ValidationError) as refused:  # another town's register is not theirs
        act(services, "yanpen_gov", register.register, {**SUNRISE, "town_id": world.town.id})
    assert "town_id" in refused.value.errors
    with pytest.raises(NotFoundError):
        act(services, "yanpen_gov", register.update, world.org.id, {**SUNRISE, "town_id": world.other_town.id})
    for username in ("committee", "orgstaff"):
        with unit_of_work(services.session_factory, readonly=True) as session:
            with pytest.raises(ForbiddenError):
                register.check_may_register(session, session.scalar(select(User).where(User.username == username)))
    with unit_of_work(services.session_factory, readonly=True) as session:
        yanpen = session.scalar(select(User).where(User.username == "yanpen_gov"))
        assert register.organizations_kept_by(session, yanpen) == []
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert len(register.organizations_kept_by(session, admin)) == 2
    assert organizations(services) == before
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(OrganizationBranch)) == 0
