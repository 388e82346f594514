"""The audit log of administrative actions: who did what to which object, and when."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.models import AuditEntry, utcnow


def record(session: Session, actor: str, action: str, target: str, details: dict[str, Any] | None = None,
           ts: datetime | None = None) -> AuditEntry:
    """Write one entry in the caller's transaction."""
    entry = AuditEntry(ts=ts or utcnow(), actor=actor, action=action, target=target, details=details or {})
    session.add(entry)
    return entry


def entries(session: Session, page: int = 1, per_page: int = 50,
            action: str | None = None) -> tuple[Sequence[AuditEntry], int]:
    """``(entries newest first, total)`` for one page, optionally of one action."""
    query = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    if action:
        query, count = query.where(AuditEntry.action == action), count.where(AuditEntry.action == action)
    rows = session.scalars(query.order_by(AuditEntry.ts.desc(), AuditEntry.id.desc())
                           .offset((max(page, 1) - 1) * per_page).limit(per_page)).all()
    return rows, session.scalar(count) or 0


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def repeated_targets(session: Session, action: str) -> int:
    """How many targets have more than one entry of ``action`` (work that was done twice)."""
    repeated = select(AuditEntry.target).where(AuditEntry.action == action).group_by(AuditEntry.target) \
        .having(func.count() > 1)
    return session.scalar(select(func.count()).select_from(repeated.subquery())) or 0
