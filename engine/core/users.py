"""People and their roles: accounts, argon2 passwords and their policy, sign-in, role grants.

Every function takes a SQLAlchemy session and never commits; the caller's unit of work does.
"""
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from zxcvbn import zxcvbn
from sqlalchemy.orm import Session

from engine.core import access, affiliations
from engine.errors import ConflictError, NotFoundError, Text, ValidationError
from engine.core.models import ROLE_SCOPE_TYPE, ROLES, AffiliationKind, RoleGrant, User, utcnow

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
# Longer passwords are refused: hashing and strength estimation must stay cheap.
MAX_PASSWORD_LENGTH = 200
# zxcvbn's score (0-4) a password needs: 2 means well over a million guesses, out of reach
# of an online attacker slowed down by the sign-in throttle; common passwords score 0.
MIN_PASSWORD_SCORE = 2


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified when the username is unknown, so that a wrong name costs as long as a wrong
    password. Made on first use: an argon2 hash would cost every process a fifth of a
    second at start."""
    # Per hasher: a dummy made with other parameters would cost a different time.
    return hasher.hash("sanshe-no-such-user")


@dataclass
class SignIn:
    """The outcome of a sign-in attempt: ``user`` on success, else ``None``."""
    user: User | None

    @property
    def ok(self) -> bool:
        return self.user is not None


def password_problem(password: str, username: str = "") -> Text | None:
    """Why ``password`` may not be used (length, whitespace only, common or guessable), or None."""
    password = password or ""
    if not password.strip():
        return Text("The password may not be empty or only spaces.")
    if len(password) < MIN_PASSWORD_LENGTH:
        return Text("At least %(count)s characters.", count=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return Text("At most %(count)s characters.", count=MAX_PASSWORD_LENGTH)
    if zxcvbn(password, user_inputs=[username] if username else [])["score"] < MIN_PASSWORD_SCORE:
        return Text("This password is too common or too easy to guess; choose a longer or less predictable one.")
    return None


def hash_password(password: str, username: str = "") -> str:
    """The argon2 hash of a password that meets the policy (else ValidationError)."""
    problem = password_problem(password, username)
    if problem is not None:
        raise ValidationError(Text("The password is not accepted."), errors={"password": [problem]})
    return _hasher.hash(password)


def create_user(session: Session, username: str, password: str, display_name: str = "",
                organization_id: int | None = None, locale: str = "zh_CN") -> User:
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
        username=username, display_name=display_name or username, password_hash=hash_password(password, username),
        locale=locale, active=True,
    )
    session.add(user)
    session.flush()
    if organization_id:
        affiliations.add(session, user, organization_id, AffiliationKind.EMPLOYMENT, utcnow().date())
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Replace the password; every session the person has open ends."""
    user.password_hash = hash_password(password, user.username)
    end_sessions(session, user)


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """The person replaces their own password, proving they know the current one."""
    if not _verify(user.password_hash, current):
        message = Text("The current password is wrong.")
        raise ValidationError(message, errors={"current_password": [message]})
    set_password(session, user, new)


def end_sessions(session: Session, user: User) -> None:
    """Every session cookie issued to ``user`` so far stops working."""
    session.execute(update(User).where(User.id == user.id)
                    .values(session_version=User.session_version + 1))
    session.refresh(user, ["session_version"])


def authenticate(session: Session, username: str, password: str) -> SignIn:
    """The active user with this name and password, as a :class:`SignIn`.

    An unknown name costs as long as a wrong password. Throttling of repeated failures is
    the caller's job (engine.core.throttle), before the password is checked.
    """
    credentials = credentials_of(session, username)
    if not password_matches(credentials, password):
        return SignIn(None)
    return confirm_sign_in(session, credentials, password)


@dataclass(frozen=True)
class Credentials:
    """What a sign-in checks the password against, read before the slow check; plain values,
    so that the check can run after the transaction that read them has ended."""
    user_id: int | None
    password_hash: str


def credentials_of(session: Session, username: str) -> Credentials:
    """The active user's id and password hash; for an unknown or inactive name a stand-in
    hash that takes as long to check and never matches."""
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None or not user.active:
        return Credentials(None, _dummy_hash(_hasher))
    return Credentials(user.id, user.password_hash)


def password_matches(credentials: Credentials, password: str) -> bool:
    """The slow Argon2 check (no database): as long for unknown names as for known ones."""
    return _verify(credentials.password_hash, password) and credentials.user_id is not None


def confirm_sign_in(session: Session, credentials: Credentials, password: str) -> SignIn:
    """After :func:`password_matches`: the user, unless deactivated or given another password
    meanwhile; the hash is renewed when the hashing parameters changed."""
    user = session.get(User, credentials.user_id) if credentials.user_id is not None else None
    if user is None or not user.active or user.password_hash != credentials.password_hash:
        return SignIn(None)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return SignIn(user)


def _verify(password_hash: str, password: str | None) -> bool:
    try:
        return _hasher.verify(password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def grant_role(session: Session, user: User, role: str, scope_id: int = 0) -> RoleGrant:
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


def revoke_role(session: Session, user: User, role: str, scope_id: int = 0) -> bool:
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


def set_display_name(session: Session, user: User, display_name: str) -> None:
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


def deactivate(session: Session, user: User) -> None:
    """The person can no longer sign in nor see tasks; their history stays."""
    user.active = False
    end_sessions(session, user)


def find_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(Text("No user with id %(id)s.", id=user_id))
    return user


def list_users(session: Session, role: str | None = None, scope_type: str | None = None, scope_id: int | None = None,
               active: bool | None = None) -> list[User]:
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


def members(session: Session, role: str, scope_type: str, scope_id: int | None) -> list[User]:
    """Active users who hold ``role`` in exactly that scope (hand-over candidates)."""
    return list_users(session, role=role, scope_type=scope_type, scope_id=scope_id, active=True)
