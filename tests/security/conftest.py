"""The real app with the seven-step process on SQLite and PostgreSQL, for attacks on it."""
import pytest

from engine.core import users as user_store
from tests.factories import FAST_HASHER
from tests.webui.conftest import Client, build_web


@pytest.fixture
def fast_argon2(monkeypatch):
    """Argon2 with small parameters: the same code path, milliseconds instead of 0.35 s a hash."""
    monkeypatch.setattr(user_store, "_hasher", FAST_HASHER)


@pytest.fixture
def web(services, fast_argon2):
    """The app on SQLite and on PostgreSQL (``services`` is parametrized over both)."""
    return build_web(services)


@pytest.fixture
def as_user(web):
    """as_user('committee') -> a signed-in client."""
    def make(username: str) -> Client:
        c = Client(web.app)
        response = c.login(username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return c
    return make


# The real server in a thread and Debian's Chromium, for the attacks only a browser shows.
from tests.browser.conftest import chromium, live  # noqa: E402,F401
