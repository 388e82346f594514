"""What every view needs: the engine services, one unit of work, the signed-in person."""
from contextlib import contextmanager

from flask import current_app, g, has_request_context, request
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
    """The request's unit of work (commit on success, roll back on error).

    The first one of a request continues the transaction in which the signed-in person was
    loaded (one transaction per request instead of two), unless it writes on SQLite: that
    one needs a write transaction from its start, so the read is ended and a new one begun.
    """
    held = g.pop("sanshe_unit", None) if has_request_context() else None
    if held is not None:
        manager, session = held
        if readonly or session.get_bind().dialect.name != "sqlite":
            try:
                yield session
            except BaseException as exc:
                if not manager.__exit__(type(exc), exc, exc.__traceback__):
                    raise
            else:
                manager.__exit__(None, None, None)
            return
        manager.__exit__(None, None, None)
    with unit_of_work(services().session_factory, readonly=readonly) as session:
        yield session


def _request_unit():
    """The session of the request's first unit of work, begun now (see :func:`unit`)."""
    held = g.get("sanshe_unit")
    if held is None:
        manager = unit_of_work(services().session_factory, readonly=True)
        held = g.sanshe_unit = (manager, manager.__enter__())
    return held[1]


def end_request_unit(exc: BaseException | None = None) -> None:
    """End the transaction the person was loaded in when no view took it over."""
    held = g.pop("sanshe_unit", None)
    if held is not None:
        if exc is None:
            held[0].__exit__(None, None, None)
        else:
            held[0].__exit__(type(exc), exc, exc.__traceback__)


def load_user(cookie_id):
    """The person a session cookie names, if the cookie is still of their current session version."""
    from engine.core.access import grants_of
    from engine.core.notifications import unread_count

    user_id, _, version = str(cookie_id).partition(".")
    if not (user_id.isdigit() and version.isdigit()) or len(user_id) > 18:
        return None
    # Read in the transaction the view then continues (the grants stay cached in it).
    session = _request_unit()
    try:
        user = find_user(session, int(user_id))
    except NotFoundError:
        return None
    if not user.active or str(user.session_version) != version:
        return None
    # Held for the request: the session keeps loaded rows only while something refers to
    # them, and the view's me() finds the person in it instead of reading them again.
    g.sanshe_me = user
    if request.method == "GET":
        # The bell's count for the page, read now rather than in a transaction of its own
        # after the view's (pages are only shown for GET; a POST answers with a redirect).
        g.sanshe_unread = unread_count(session, user.username)
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
