"""People and their roles: accounts, argon2 passwords, sign-in with lock-out, role grants.

Every function takes a SQLAlchemy session and never commits; the caller's unit of work does.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from engine.core import access, affiliations
from engine.errors import ConflictError, NotFoundError, Text, ValidationError
from engine.core.models import ROLE_SCOPE_TYPE, ROLES, AffiliationKind, RoleGrant, User, utcnow

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8


@cache
def _dummy_hash():
    """Verified when the username is unknown, so that a wrong name costs as long as a wrong
    password. Made on first use: an argon2 hash would cost every process a fifth of a
    second at start."""
    return _hasher.hash("sanshe-no-such-user")


@dataclass
class SignIn:
    """The outcome of a sign-in attempt: ``user`` on success, else why not."""
    user: User | None
    locked_until: datetime | None = None

    @property
    def ok(self):
        return self.user is not None


def hash_password(password):
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(Text("The password is too short."),
                              errors={"password": [Text("At least %(count)s characters.", count=MIN_PASSWORD_LENGTH)]})
    return _hasher.hash(password)


def create_user(session, username, password, display_name="", organization_id=None, locale="zh_CN"):
    """A new active account; the username must be unused.

    With ``organization_id`` the person is recorded as employed there from today (see
    :mod:`engine.core.affiliations` for memberships, titles and dates).
    """
    username = (username or "").strip()
    if not username:
        raise ValidationError(Text("A username is required."), errors={"username": [Text("Required.")]})
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(Text("The username %(name)r is taken.", name=username))
    user = User(
        username=username, display_name=display_name or username, password_hash=hash_password(password),
        locale=locale, failed_logins=0, active=True,
    )
    session.add(user)
    session.flush()
    if organization_id:
        affiliations.add(session, user, organization_id, AffiliationKind.EMPLOYMENT, utcnow().date())
    return user


def set_password(session, user, password):
    """Replace the password and lift any lock-out."""
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()


def authenticate(session, username, password, max_failures=5, lock_minutes=15, now=None):
    """Check a sign-in; counts failures and locks the account after ``max_failures`` of them.

    Returns a :class:`SignIn`. Failures are recorded in the session, so the caller must
    commit even when the sign-in is refused (do not raise inside the unit of work).
    A locked account is refused even with the right password until the lock expires.
    """
    now = now or utcnow()
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None or not user.active:
        _verify(_dummy_hash(), password)
        return SignIn(None)
    if user.locked_until is not None and user.locked_until > now:
        return SignIn(None, locked_until=user.locked_until)
    if not _verify(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            return SignIn(None, locked_until=user.locked_until)
        return SignIn(None)
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return SignIn(user)


def _verify(password_hash, password):
    try:
        return _hasher.verify(password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def grant_role(session, user, role, scope_id=0):
    """Give ``user`` the ``role`` in one scope (its type follows from the role). Idempotent."""
    if role not in ROLES:
        message = Text("Unknown role %(role)r.", role=role)
        raise ValidationError(message, errors={"role": [message]})
    scope_type = ROLE_SCOPE_TYPE[role]
    scope_id = 0 if scope_type == "global" else int(scope_id or 0)
    if scope_type != "global" and not scope_id:
        message = Text("The role %(role)s needs a %(kind)s.", role=role, kind=scope_type)
        raise ValidationError(message, errors={"scope_id": [message]})
    grant = session.scalar(select(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.role == role,
        RoleGrant.scope_type == scope_type, RoleGrant.scope_id == scope_id))
    if grant is None:
        grant = RoleGrant(user_id=user.id, role=role, scope_type=scope_type, scope_id=scope_id)
        session.add(grant)
        session.flush()
        access.forget_grants(session)
    return grant


def revoke_role(session, user, role, scope_id=0):
    """Take the role in that scope away; returns whether the user held it."""
    scope_type = ROLE_SCOPE_TYPE.get(role, "global")
    grant = session.scalar(select(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.role == role,
        RoleGrant.scope_type == scope_type, RoleGrant.scope_id == (0 if scope_type == "global" else scope_id)))
    if grant is None:
        return False
    session.delete(grant)
    session.flush()
    access.forget_grants(session)
    return True


def set_display_name(session, user, display_name):
    """The name people see everywhere instead of the username (at most 200 characters)."""
    name = (display_name or "").strip()
    if not name:
        message = Text("Enter the name people know this person by.")
        raise ValidationError(message, errors={"display_name": [message]})
    if len(name) > 200:
        message = Text("At most %(count)s characters.", count=200)
        raise ValidationError(message, errors={"display_name": [message]})
    user.display_name = name
    session.flush()


def deactivate(session, user):
    """The person can no longer sign in nor see tasks; their history stays."""
    user.active = False
    session.flush()


def find_user(session, user_id):
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(Text("No user with id %(id)s.", id=user_id))
    return user


def list_users(session, role=None, scope_type=None, scope_id=None, active=None):
    """Users ordered by username, optionally only those holding ``role`` (in one scope)."""
    query = select(User).order_by(User.username)
    if role is not None or scope_type is not None:
        query = query.join(RoleGrant, RoleGrant.user_id == User.id).distinct()
        if role is not None:
            query = query.where(RoleGrant.role == role)
        if scope_type is not None:
            query = query.where(RoleGrant.scope_type == scope_type, RoleGrant.scope_id == scope_id)
    if active is not None:
        query = query.where(User.active == active)
    return list(session.scalars(query))


def members(session, role, scope_type, scope_id):
    """Active users who hold ``role`` in exactly that scope (hand-over candidates)."""
    return list_users(session, role=role, scope_type=scope_type, scope_id=scope_id, active=True)
