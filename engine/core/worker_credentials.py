"""Worker credentials: one key per worker outside Sanshe, each limited to its topics.

A key reads ``sw_<key id>.<secret>``. The key id finds the row; the secret (256 random bits)
is kept only as an argon2 hash and shown once, when the credential is created or rotated.
An administrator creates, rotates (a new secret; the old one stops working at once) and
revokes (the key stops working; the row stays for the record) credentials. The job API
asks :func:`authenticate` on every call and :func:`check_topics` before it lets the key
touch a job.

The settings' single ``worker_api_key`` stays the built-in key, allowed every topic: it is
what an administrator's own deployment scripts use; Sanshe's own workers do not need it
(they take jobs from the queue directly).

Every function takes a session and never commits.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import audit
from engine.core.models import Job, WorkerCredential, utcnow
from engine.errors import ConflictError, ForbiddenError, NotFoundError, Text, ValidationError

PREFIX = "sw_"
MAX_NAME_LENGTH = 80
# The secret carries 256 random bits, so no guessing is slowed by a costly hash: argon2 with
# small parameters (a few milliseconds) is enough to keep a stolen table useless.
_hasher = PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1)
# Secrets already verified against a stored hash, per process: {key id: (hash, sha256 of the
# secret)}. A worker polls every second; argon2 on every call would cost more than the call.
# A rotation changes the hash, so an old entry no longer matches; revocation is read from
# the row on every call.
_verified: dict[str, tuple[str, bytes]] = {}
_verified_lock = threading.Lock()


class BuiltIn:
    """The settings' worker key: every topic."""

    name = "built-in"
    topics: tuple[str, ...] = ()
    all_topics = True


def _new_secret() -> tuple[str, str, str]:
    """(key id, secret, the key a worker sends)."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return key_id, secret, f"{PREFIX}{key_id}.{secret}"


def _clean_topics(topics: Iterable[str], known: Iterable[str]) -> list[str]:
    wanted = sorted({t.strip() for t in topics if t and t.strip()})
    if not wanted:
        raise ValidationError(Text("Choose at least one topic."), errors={"topics": [Text("Required.")]})
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValidationError(Text("No worker handles the topics %(topics)s.", topics=", ".join(unknown)),
                              errors={"topics": [", ".join(unknown)]})
    return wanted


def create(session: Session, name: str, topics: Iterable[str], known_topics: Iterable[str], actor: str,
           now: datetime | None = None) -> tuple[WorkerCredential, str]:
    """A new credential for ``topics`` (each one some worker handles); returns the row and the
    key, which is shown this once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise ValidationError(Text("A name of 1 to %(count)s printable characters is required.",
                                   count=MAX_NAME_LENGTH), errors={"name": [Text("Required.")]})
    chosen = _clean_topics(topics, known_topics)
    if session.scalar(select(WorkerCredential.id).where(WorkerCredential.name == name)) is not None:
        raise ConflictError(Text("A worker credential named “%(name)s” exists already.", name=name))
    key_id, secret, key = _new_secret()
    row = WorkerCredential(name=name, key_id=key_id, secret_hash=_hasher.hash(secret), topics=chosen,
                           created_by=actor, created_at=now or utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor, "worker_credential_create", f"worker {name}", {"topics": chosen})
    return row, key


def list_credentials(session: Session) -> list[WorkerCredential]:
    """Every credential, active ones first, by name."""
    rows = session.scalars(select(WorkerCredential).order_by(WorkerCredential.name)).all()
    return sorted(rows, key=lambda r: r.revoked_at is not None)


def find(session: Session, ident: int | str) -> WorkerCredential:
    """The credential with this id or name (NotFoundError if none)."""
    query = select(WorkerCredential)
    if isinstance(ident, int) or ident.isdigit():
        row = session.get(WorkerCredential, int(ident))
        if row is not None:
            return row
    row = session.scalar(query.where(WorkerCredential.name == str(ident)))
    if row is None:
        raise NotFoundError(Text("No worker credential %(name)s.", name=ident))
    return row


def rotate(session: Session, row: WorkerCredential, actor: str, now: datetime | None = None) -> str:
    """A new secret for ``row``; the old key stops working at once. Returns the new key."""
    if row.revoked_at is not None:
        raise ConflictError(Text("The worker credential %(name)s is revoked.", name=row.name))
    key_id, secret, key = _new_secret()
    row.key_id, row.secret_hash, row.rotated_at = key_id, _hasher.hash(secret), now or utcnow()
    session.flush()
    audit.record(session, actor, "worker_credential_rotate", f"worker {row.name}")
    return key


def revoke(session: Session, row: WorkerCredential, actor: str, now: datetime | None = None) -> None:
    """The key stops working; the row stays (who had access, until when)."""
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        audit.record(session, actor, "worker_credential_revoke", f"worker {row.name}")


def is_builtin(key: str, builtin_key: str) -> bool:
    """Whether ``key`` is the built-in key (compared in constant time; an empty one matches nothing)."""
    return bool(key and builtin_key) and hmac.compare_digest(key.encode(), builtin_key.encode())


def authenticate(session: Session, key: str, builtin_key: str = "") -> WorkerCredential | BuiltIn | None:
    """The credential ``key`` belongs to (the built-in one for ``builtin_key``), or None for
    an unknown, wrong or revoked key."""
    if not key:
        return None
    if is_builtin(key, builtin_key):
        return BuiltIn()
    if not key.startswith(PREFIX) or "." not in key or len(key) > 200:
        return None
    key_id, _, secret = key[len(PREFIX):].partition(".")
    row = session.scalar(select(WorkerCredential).where(WorkerCredential.key_id == key_id))
    if row is None or row.revoked_at is not None or not secret:
        return None
    digest = hashlib.sha256(secret.encode()).digest()
    with _verified_lock:
        known = _verified.get(key_id)
    if known is not None and known[0] == row.secret_hash and hmac.compare_digest(known[1], digest):
        return row
    try:
        _hasher.verify(row.secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return None
    with _verified_lock:
        _verified[key_id] = (row.secret_hash, digest)
    return row


def allows(credential: WorkerCredential | BuiltIn, topic: str) -> bool:
    """Whether ``credential`` may fetch and act on jobs of ``topic``."""
    return isinstance(credential, BuiltIn) or topic in (credential.topics or [])


def check_topics(credential: WorkerCredential | BuiltIn, topics: Iterable[str]) -> None:
    """ForbiddenError naming the topics ``credential`` may not touch."""
    refused = sorted({t for t in topics if not allows(credential, t)})
    if refused:
        raise ForbiddenError(Text("This worker credential does not allow the topics %(topics)s.",
                                  topics=", ".join(refused)))


def check_job(session: Session, credential: WorkerCredential | BuiltIn, job_id: int) -> None:
    """ForbiddenError when job ``job_id`` is of a topic ``credential`` may not touch (an
    unknown job is left to the caller, which says it does not exist)."""
    topic = session.scalar(select(Job.topic).where(Job.id == job_id))
    if topic is not None:
        check_topics(credential, [topic])
