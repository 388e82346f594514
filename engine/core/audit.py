"""The audit log of administrative actions: who did what to which object, and when."""
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from engine.core.models import AuditEntry, utcnow


def record(session: Session, actor: str, action: str, target: str, details: dict[str, Any] | None = None,
           ts: datetime | None = None) -> AuditEntry:
    """Write one entry in the caller's transaction."""
    entry = AuditEntry(ts=ts or utcnow(), actor=actor, action=action, target=target, details=details or {})
    session.add(entry)
    return entry


def entries(session: Session, page: int = 1, per_page: int = 50, action: str | None = None, actor: str | None = None,
            since: datetime | None = None, until: datetime | None = None,
            text: str | None = None) -> tuple[list[AuditEntry], int]:
    """``(entries newest first, total)`` for one page, filtered by action, actor, time
    (``since`` inclusive, ``until`` exclusive) and a text the object's name contains."""
    conditions: list[ColumnElement[bool]] = []
    if action:
        conditions.append(AuditEntry.action == action)
    if actor:
        conditions.append(AuditEntry.actor == actor)
    if since:
        conditions.append(AuditEntry.ts >= since)
    if until:
        conditions.append(AuditEntry.ts < until)
    if text:
        conditions.append(AuditEntry.target.contains(text, autoescape=True))
    query = select(AuditEntry).where(*conditions)
    count = select(func.count()).select_from(AuditEntry).where(*conditions)
    rows = session.scalars(query.order_by(AuditEntry.ts.desc(), AuditEntry.id.desc())
                           .offset((max(page, 1) - 1) * per_page).limit(per_page)).all()
    return list(rows), session.scalar(count) or 0


def actions(session: Session) -> list[str]:
    """The actions recorded so far."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def actors(session: Session) -> list[str]:
    """The usernames that did something recorded so far."""
    return list(session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)))


def repeated_targets(session: Session, action: str) -> int:
    """How many targets have more than one entry of ``action`` (work that was done twice)."""
    repeated = select(AuditEntry.target).where(AuditEntry.action == action).group_by(AuditEntry.target) \
        .having(func.count() > 1)
    return session.scalar(select(func.count()).select_from(repeated.subquery())) or 0
