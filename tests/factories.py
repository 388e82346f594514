"""Small builders for the people and places tests need (rows written directly)."""
from types import SimpleNamespace

from argon2 import PasswordHasher
from sqlalchemy import select

from engine.core import users as user_store
from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from engine.core.models import CatalogItem, Community, Organization, RoleGrant, Town, User


def add_user(session, username, role, scope_type, scope_id, organization_id=None):
    user = User(username=username, display_name=username, organization_id=organization_id)
    user.grants.append(RoleGrant(role=role, scope_type=scope_type, scope_id=scope_id))
    session.add(user)
    return user


def make_world(session, representatives=5):
    """One town, one community with a catalog item, one organization, a user per role."""
    town = Town(code="liushi", name="柳市镇", name_en="Liushi")
    session.add(town)
    session.flush()
    community = Community(code="xiangdong", name="象东社区", name_en="Xiangdong", town_id=town.id, kind="rural")
    org = Organization(code="org1", name="乐清社工服务中心", service_fields=["elderly"], town_id=town.id)
    other_org = Organization(code="org2", name="另一家机构", service_fields=["youth"], town_id=town.id)
    session.add_all([community, org, other_org])
    session.flush()
    item = CatalogItem(community_id=community.id, code="E01", name="居家养老服务", service_field="elderly")
    sw_item = CatalogItem(community_id=community.id, code="S01", name="青少年社工", service_field="youth", social_work=True)
    session.add_all([item, sw_item])
    session.flush()
    users = SimpleNamespace(
        committee=add_user(session, "committee", "community_committee", "community", community.id),
        town=add_user(session, "town", "town_government", "town", town.id),
        org=add_user(session, "orgstaff", "social_organization", "organization", org.id, org.id),
        other_org=add_user(session, "otherstaff", "social_organization", "organization", other_org.id, other_org.id),
        supervisor=add_user(session, "supervisor", "supervisor", "town", town.id),
        admin=add_user(session, "admin", "administrator", "global", 0),
        reps=[add_user(session, f"rep{i}", "resident_representative", "community", community.id) for i in range(representatives)],
        panel=[add_user(session, f"panel{i}", "evaluation_panel", "community", community.id) for i in range(3)],
    )
    session.flush()
    return SimpleNamespace(town=town, community=community, org=org, other_org=other_org, item=item,
                           sw_item=sw_item, users=users)


def deploy_world(services, folder):
    """Deploy the diagrams and forms in ``folder`` and make the test world; returns the world."""
    bpmn, forms = read_bundle([folder])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
        return make_world(session)


PASSWORD = "correct-horse-9"
# Argon2 with small parameters: sign-in is exercised (same code path), not its cost.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def set_all_passwords(session, password=PASSWORD):
    """Every user gets ``password`` (hashed once)."""
    password_hash = user_store.hash_password(password)
    for user in session.scalars(select(User)):
        user.password_hash = password_hash
