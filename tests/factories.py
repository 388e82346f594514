"""Small builders for the people and places tests need (rows written directly)."""
from argon2 import PasswordHasher
from sqlalchemy import select

from engine.core import users as user_store
from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from engine.core.models import User
from engine.method.driver import add_user, make_world  # noqa: F401 (the tests' world)


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
