"""What every view needs: the engine services, one unit of work, the signed-in person."""
from contextlib import contextmanager

from flask import current_app
from flask_login import UserMixin, current_user

from engine.core.db import unit_of_work
from engine.errors import NotFoundError
from engine.core.users import find_user


class SignedIn(UserMixin):
    """The signed-in person as Flask-Login keeps them between requests (no ORM object)."""

    def __init__(self, user, grants):
        self.id = user.id
        self.session_version = user.session_version
        self.username = user.username
        self.display_name = user.display_name or user.username
        self.grants = grants  # {(role, scope_type, scope_id)}

    def get_id(self):
        # The version makes every cookie issued before a sign-out or password change invalid.
        return f"{self.id}.{self.session_version}"

    @property
    def roles(self):
        return {role for role, _, _ in self.grants}

    def has_role(self, *roles):
        return bool(self.roles & set(roles))

    def holds(self, role, scope_type, scope_id):
        return (role, scope_type, scope_id) in self.grants


def services():
    return current_app.extensions["sanshe"]


def settings():
    return current_app.config["SANSHE_SETTINGS"]


@contextmanager
def unit(readonly=False):
    """The request's unit of work (commit on success, roll back on error)."""
    with unit_of_work(services().session_factory, readonly=readonly) as session:
        yield session


def load_user(cookie_id):
    """The person a session cookie names, if the cookie is still of their current session version."""
    from engine.core.access import grants_of

    user_id, _, version = str(cookie_id).partition(".")
    if not (user_id.isdigit() and version.isdigit()) or len(user_id) > 18:
        return None
    with unit(readonly=True) as session:
        try:
            user = find_user(session, int(user_id))
        except NotFoundError:
            return None
        if not user.active or str(user.session_version) != version:
            return None
        return SignedIn(user, grants_of(session, user))


def me(session):
    """The signed-in person's row in ``session`` (deactivated meanwhile -> NotFoundError)."""
    try:
        user = find_user(session, current_user.id)
    except NotFoundError:
        user = None
    if user is None or not user.active:
        raise NotFoundError("Your account is no longer active.")
    return user
