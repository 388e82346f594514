"""The catalog of transferable items on SQLite and PostgreSQL: the committee keeps it per
year, the town approves it, and only approved, open items of this year start projects."""
import pytest
from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.core.models import AuditEntry, CatalogItem, Community, Definition, Instance, Town, User
from engine.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from engine.method import catalog
from engine.method.models import CatalogApproval
from engine.queries import listings
from tests.factories import add_user, make_world

YEAR = catalog.this_year()
HOME_CARE = {"name": "独居老人探访", "name_en": "Visits to elderly living alone", "service_field": "elderly",
             "social_work": True, "description": "每周上门探访一次"}


@pytest.fixture
def world(services):
    with unit_of_work(services.session_factory) as session:
        world = make_world(session)
        other_town = Town(code="yanpen", name="盐盆街道")
        session.add(other_town)
        session.flush()
        other = Community(code="yancheng", name="盐城社区", town_id=other_town.id)
        session.add(other)
        session.flush()
        world.other_community = other
        world.users.other_committee = add_user(session, "yancheng_committee", "community_committee", "community", other.id)
        world.users.other_town = add_user(session, "yanpen_gov", "town_government", "town", other_town.id)
    return world


def act(services, username, fn, *args, **kwargs):
    """Run ``fn(session, user, ...)`` as ``username`` in one unit of work."""
    with unit_of_work(services.session_factory) as session:
        user = session.scalar(select(User).where(User.username == username))
        return fn(session, user, *args, **kwargs)


def snapshot(services):
    with unit_of_work(services.session_factory, readonly=True) as session:
        items = session.execute(select(CatalogItem.id, CatalogItem.code, CatalogItem.name, CatalogItem.revision,
                                       CatalogItem.approved_revision, CatalogItem.retired_at)
                                .order_by(CatalogItem.id)).all()
        return items, session.scalar(select(func.count()).select_from(CatalogApproval))


def startable_names(services, username="orgstaff", year=YEAR):
    with unit_of_work(services.session_factory, readonly=True) as session:
        user = session.scalar(select(User).where(User.username == username))
        return [item.name for _, item, _ in listings.startable_items(session, user, year)]


def test_committee_adds_town_approves_organization_starts(services, world):
    item = act(services, "committee", catalog.add_item, world.community.id, YEAR, HOME_CARE)
    assert item.code == f"{YEAR}-01" and item.updated_by == "committee"
    assert "独居老人探访" not in startable_names(services)  # not approved yet

    approval = act(services, "town", catalog.approve, world.community.id, YEAR)
    assert approval.approved_by == "town" and {i["name"] for i in approval.items} >= {"独居老人探访"}
    assert "独居老人探访" in startable_names(services)

    view = act(services, "town", catalog.catalog, world.community.id, YEAR)
    assert {row.item.name: row.state for row in view.rows}["独居老人探访"] == catalog.ItemState.APPROVED
    assert view.approval.approved_by == "town" and view.awaiting_approval == 0


def test_a_change_after_approval_shows_and_waits_for_approval_again(services, world):
    act(services, "committee", catalog.edit_item, world.item.id, {**HOME_CARE, "name": "居家养老服务（修订）"})
    view = act(services, "committee", catalog.catalog, world.community.id, YEAR)
    states = {row.item.id: row.state for row in view.rows}
    assert states[world.item.id] == catalog.ItemState.CHANGED and view.awaiting_approval == 1
    assert "居家养老服务（修订）" not in startable_names(services)
    act(services, "town", catalog.approve, world.community.id, YEAR)
    assert "居家养老服务（修订）" in startable_names(services)
    # Saving the same values is no change: the item stays approved.
    act(services, "committee", catalog.edit_item, world.item.id, {**HOME_CARE, "name": "居家养老服务（修订）"})
    assert "居家养老服务（修订）" in startable_names(services)
    with pytest.raises(ConflictError):
        act(services, "town", catalog.approve, world.community.id, YEAR)


def test_retired_and_other_years_items_start_no_project(services, world):
    act(services, "committee", catalog.retire_item, world.item.id)
    assert "居家养老服务" not in startable_names(services)
    with unit_of_work(services.session_factory, readonly=True) as session:
        with pytest.raises(ConflictError, match="retired"):
            catalog.check_open(session.get(CatalogItem, world.item.id), YEAR)
    nxt = act(services, "committee", catalog.add_item, world.community.id, YEAR + 1, HOME_CARE)
    act(services, "town", catalog.approve, world.community.id, YEAR + 1)
    assert "独居老人探访" not in startable_names(services)  # next year's catalog is not open yet
    assert "独居老人探访" in startable_names(services, year=YEAR + 1)
    assert nxt.code == f"{YEAR + 1}-01"


def test_copy_carries_over_open_items_unapproved(services, world):
    act(services, "committee", catalog.retire_item, world.sw_item.id)
    copies = act(services, "committee", catalog.copy_year, world.community.id, YEAR, YEAR + 1)
    assert [c.name for c in copies] == ["居家养老服务"]
    view = act(services, "committee", catalog.catalog, world.community.id, YEAR + 1)
    assert [row.state for row in view.rows] == [catalog.ItemState.PENDING]
    with pytest.raises(ConflictError, match="already has items"):
        act(services, "committee", catalog.copy_year, world.community.id, YEAR, YEAR + 1)


def test_an_item_a_project_uses_is_never_removed(services, world):
    with unit_of_work(services.session_factory) as session:
        definition = Definition(key="seven_step_project", version=1, content_hash="x" * 64, bpmn_file="t.bpmn",
                                bpmn_xml="<definitions/>", forms={}, deployed_by="test")
        session.add(definition)
        session.flush()
        session.add(Instance(definition_id=definition.id, title="居家养老", town_id=world.town.id,
                             community_id=world.community.id, organization_id=world.org.id,
                             catalog_item_id=world.item.id))
    before = snapshot(services)
    with pytest.raises(ConflictError, match="used by 1 projects"):
        act(services, "committee", catalog.remove_item, world.item.id)
    assert snapshot(services) == before
    # Retiring it is the way: the project goes on, no new one starts on it.
    act(services, "committee", catalog.retire_item, world.item.id)
    with pytest.raises(ConflictError, match="already retired"):
        act(services, "committee", catalog.retire_item, world.item.id)
    with pytest.raises(ConflictError, match="no longer be changed"):
        act(services, "committee", catalog.edit_item, world.item.id, HOME_CARE)
    # An item no project uses may be removed.
    act(services, "committee", catalog.remove_item, world.sw_item.id)
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert session.get(CatalogItem, world.sw_item.id) is None
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.like("catalog_item_%"))) == 2


@pytest.mark.parametrize("values, field", [
    ({**HOME_CARE, "name": "  "}, "name"),
    ({**HOME_CARE, "service_field": "gardening"}, "service_field"),
    ({**HOME_CARE, "name": "居家养老服务"}, "name"),        # the year's catalog already lists it
    ({**HOME_CARE, "code": "E01"}, "code"),                  # the number is taken
])
def test_bad_items_are_refused_and_nothing_changes(services, world, values, field):
    before = snapshot(services)
    with pytest.raises(ValidationError) as refused:
        act(services, "committee", catalog.add_item, world.community.id, YEAR, values)
    assert field in refused.value.errors
    assert snapshot(services) == before


def test_people_outside_the_scope_are_refused(services, world):
    before = snapshot(services)
    # Another community's committee does not even see this catalog.
    with pytest.raises(NotFoundError):
        act(services, "yancheng_committee", catalog.add_item, world.community.id, YEAR, HOME_CARE)
    with pytest.raises(NotFoundError):
        act(services, "yancheng_committee", catalog.retire_item, world.item.id)
    # The town sees it but does not keep it; the committee does not approve its own catalog.
    with pytest.raises(ForbiddenError):
        act(services, "town", catalog.edit_item, world.item.id, HOME_CARE)
    act(services, "committee", catalog.add_item, world.community.id, YEAR, HOME_CARE)
    before = snapshot(services)
    with pytest.raises(ForbiddenError):
        act(services, "committee", catalog.approve, world.community.id, YEAR)
    with pytest.raises(NotFoundError):
        act(services, "yanpen_gov", catalog.approve, world.community.id, YEAR)
    with pytest.raises(NotFoundError):
        act(services, "orgstaff", catalog.catalog, world.community.id, YEAR)
    assert snapshot(services) == before
    with unit_of_work(services.session_factory, readonly=True) as session:
        town = session.scalar(select(User).where(User.username == "town"))
        assert [c.name for c in catalog.communities_for(session, town)] == ["象东社区"]
