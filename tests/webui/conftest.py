"""A real app on a real SQLite file (or PostgreSQL) with the real seven-step process deployed,
and a client that signs in and sends CSRF tokens like a browser does."""
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from engine.core import users as user_store
from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from engine.core.models import Community, Task, Town, User
from tests.factories import FAST_HASHER, PASSWORD, add_user, make_world, set_all_passwords
from webui import create_app

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch):
    """Argon2 with small parameters: the same code path, milliseconds instead of 0.35 s a hash."""
    monkeypatch.setattr(user_store, "_hasher", FAST_HASHER)


def build_web(services):
    bpmn, forms = read_bundle([PROCESSES])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
        world = make_world(session)
        # A second town and community: people there must never see the first one's work.
        town_b = Town(code="yanpen", name="盐盆街道", name_en="Yanpen", kind="subdistrict")
        session.add(town_b)
        session.flush()
        community_b = Community(code="yancheng", name="盐城社区", name_en="Yancheng", town_id=town_b.id)
        session.add(community_b)
        session.flush()
        world.community_b = community_b
        world.users.committee_b = add_user(session, "committee_b", "community_committee", "community", community_b.id)
        world.users.committee2 = add_user(session, "committee2", "community_committee", "community", world.community.id)
        session.flush()
        set_all_passwords(session)
    app = create_app(services=services, test_config={"TESTING": True})
    return SimpleNamespace(app=app, services=services, world=world)


@pytest.fixture
def web(services):
    """The app on SQLite and on PostgreSQL: every web action runs on both databases."""
    return build_web(services)


class Client:
    """The Flask test client plus sign-in and CSRF tokens taken from the pages."""

    def __init__(self, app):
        self.http = app.test_client()
        self.token = None

    def get(self, url, **kwargs):
        response = self.http.get(url, **kwargs)
        found = TOKEN.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, url, data=None, csrf=True, htmx=False, **kwargs):
        data = dict(data or {})
        if csrf:
            if self.token is None:
                self.get("/login")
            data.setdefault("csrf_token", self.token)
        headers = kwargs.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        return self.http.post(url, data=data, headers=headers, **kwargs)

    def login(self, username, password=PASSWORD):
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        self.get("/inbox")
        return response


@pytest.fixture
def client(web):
    return Client(web.app)


@pytest.fixture
def as_user(web):
    """as_user('committee') -> a signed-in client."""
    def make(username):
        c = Client(web.app)
        response = c.login(username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return c
    return make


def start_project(web, title="居家养老服务项目", item=None):
    with unit_of_work(web.services.session_factory) as session:
        org = session.get(User, web.world.users.org.id)
        instance = web.services.runtime.start_instance(session, "seven_step_project", org, {
            "title": title, "organization_id": web.world.org.id,
            "catalog_item_id": (item or web.world.item).id})
        return instance.id


def ready_task(web, instance_id, bpmn_id=None):
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        query = select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
        if bpmn_id:
            query = query.where(Task.bpmn_id == bpmn_id)
        return session.scalars(query.order_by(Task.created_at)).first()
