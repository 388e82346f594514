"""The audit log of administrative actions: who did what to which object, and when."""
from sqlalchemy import func, select

from engine.core.models import AuditEntry, utcnow


def record(session, actor, action, target, details=None, ts=None):
    """Write one entry in the caller's transaction."""
    entry = AuditEntry(ts=ts or utcnow(), actor=actor, action=action, target=target, details=details or {})
    session.add(entry)
    return entry


def entries(session, page=1, per_page=50, action=None):
    """``(entries newest first, total)`` for one page, optionally of one action."""
    query = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    if action:
        query, count = query.where(AuditEntry.action == action), count.where(AuditEntry.action == action)
    rows = session.scalars(query.order_by(AuditEntry.ts.desc(), AuditEntry.id.desc())
                           .offset((max(page, 1) - 1) * per_page).limit(per_page)).all()
    return rows, session.scalar(count)


def actions(session):
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
