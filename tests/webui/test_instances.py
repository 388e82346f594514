"""Projects: start one, list with filters, the timeline and the diagram."""
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Instance, Organization

from .conftest import start_project


def test_organization_starts_a_project_on_a_catalog_item(web, as_user):
    c = as_user("orgstaff")
    page = c.get("/instances/new").get_data(as_text=True)
    assert "居家养老服务" in page
    response = c.post("/instances/new", {"item": f"{web.world.org.id}:{web.world.item.id}", "title": "象东居家养老"})
    assert response.status_code == 302
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        instance = session.scalars(select(Instance)).one()
        assert (instance.title, instance.started_by, instance.current_step) == ("象东居家养老", "orgstaff", 1)
    assert "象东居家养老" in c.get(response.location).get_data(as_text=True)


def test_an_item_outside_the_organizations_fields_cannot_be_started(web, as_user):
    c = as_user("orgstaff")
    response = c.post("/instances/new", {"item": f"{web.world.org.id}:{web.world.sw_item.id}"})
    assert response.status_code == 404
    assert c.post("/instances/new", {"item": "junk"}).status_code == 422
    assert as_user("otherstaff").post("/instances/new", {"item": f"{web.world.org.id}:{web.world.item.id}"}).status_code == 404


def test_an_organization_without_service_fields_is_offered_no_item(web, as_user):
    """The start page offers what step 1's screening would accept: an organization with no
    service fields on record would be screened out of every item, so none is offered."""
    with unit_of_work(web.services.session_factory) as session:
        session.get(Organization, web.world.org.id).service_fields = []
    c = as_user("orgstaff")
    page = c.get("/instances/new").get_data(as_text=True)
    assert "居家养老服务" not in page
    assert "登记的服务领域" in page  # the interface speaks Chinese unless asked otherwise
    assert c.post("/instances/new", {"item": f"{web.world.org.id}:{web.world.item.id}"}).status_code == 404
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.scalars(select(Instance)).all() == []


def test_list_filters_and_instance_page(web, as_user):
    first = start_project(web, title="项目甲")
    start_project(web, title="项目乙")
    c = as_user("town")
    page = c.get("/instances").get_data(as_text=True)
    assert "项目甲" in page and "项目乙" in page
    assert "项目甲" not in c.get("/instances?status=completed").get_data(as_text=True)
    assert "项目甲" in c.get("/instances?step=1&version=1").get_data(as_text=True)
    assert "项目甲" not in c.get("/instances?step=5").get_data(as_text=True)
    assert "项目甲" not in c.get(f"/instances?community={web.world.community_b.id}").get_data(as_text=True)
    assert c.get("/instances?status=bogus").status_code == 422
    show = c.get(f"/instances/{first}").get_data(as_text=True)
    assert "confirm_catalog_item" in show and "bpmn-navigated-viewer" in show
    xml = c.get(f"/instances/{first}/diagram.bpmn")
    assert xml.status_code == 200 and b"seven_step_project" in xml.data
    assert "项目甲" not in as_user("committee_b").get("/instances").get_data(as_text=True)


def test_town_terminates_a_project_others_cannot(web, as_user):
    instance_id = start_project(web, title="项目丙")
    org_page = as_user("orgstaff").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "terminate" not in org_page
    assert as_user("orgstaff").post(f"/instances/{instance_id}/terminate", {"reason": "撤回"}).status_code == 403
    town = as_user("town")
    assert f"/instances/{instance_id}/terminate" in town.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert town.post(f"/instances/{instance_id}/terminate", {"reason": ""}).status_code == 422
    assert town.post(f"/instances/{instance_id}/terminate", {"reason": "资金调整"}).status_code == 302
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        instance = session.get(Instance, instance_id)
        assert (instance.status, instance.outcome) == ("terminated", "资金调整")
    assert town.post(f"/instances/{instance_id}/terminate", {"reason": "again"}).status_code == 409


def test_coordination_meeting_only_during_delivery(web, as_user):
    instance_id = start_project(web, title="项目丁")
    committee = as_user("committee")
    assert "coordination" not in committee.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert committee.post(f"/instances/{instance_id}/coordination", {"issue": "噪音"}).status_code == 409
