"""Heartbeats of the running processes (web, worker, scheduler), on any host.

Every long-running process writes its row now and then; readiness asks whether a scheduler
beat recently, and the metrics count the people the web processes saw, across hosts.
"""
import os
import socket
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.core.db import Base

# A row not renewed for this long belongs to a process that is gone.
STALE_AFTER = timedelta(minutes=2)
# Rows of processes gone for this long are removed (by the scheduler).
FORGET_AFTER = timedelta(days=1)


class ProcessKind(StrEnum):
    WEB = "web"
    WORKER = "worker"
    SCHEDULER = "scheduler"


class Heartbeat(Base):
    """One running process: what it is, where, and when it last said so."""
    __tablename__ = "process_heartbeats"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # kind:host:pid
    kind: Mapped[str] = mapped_column(String(20))
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    beat_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    # What the process reports besides being alive, e.g. {"users": [ids seen lately]}.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def process_id(kind: ProcessKind) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def beat(session: Session, kind: ProcessKind, now: datetime, detail: dict[str, Any] | None = None) -> None:
    """Record that this process is alive now (and what it reports).

    One statement that inserts or renews the row: the threads of one process (several
    workers) share its row and may beat at the same moment."""
    key = process_id(kind)
    values: dict[str, Any] = {"id": key, "kind": kind.value, "host": socket.gethostname()[:120], "pid": os.getpid(),
                              "started_at": now, "beat_at": now, "detail": detail or {}}
    renewed: dict[str, Any] = {"beat_at": now}
    if detail is not None:
        renewed["detail"] = detail
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Heartbeat).values(**values)
    session.execute(statement.on_conflict_do_update(index_elements=[Heartbeat.id], set_=renewed))


def last_beat(session: Session, kind: ProcessKind) -> datetime | None:
    """When a process of ``kind`` (on any host) last beat; None if never."""
    return session.scalar(select(func.max(Heartbeat.beat_at)).where(Heartbeat.kind == kind))


def live(session: Session, now: datetime, kind: ProcessKind | None = None) -> list[Heartbeat]:
    """The processes that beat within :data:`STALE_AFTER`."""
    query = select(Heartbeat).where(Heartbeat.beat_at >= now - STALE_AFTER)
    if kind is not None:
        query = query.where(Heartbeat.kind == kind)
    return list(session.scalars(query.order_by(Heartbeat.id)))


def forget_gone(session: Session, now: datetime) -> int:
    """Remove the rows of processes gone for :data:`FORGET_AFTER`; returns how many."""
    result = session.execute(delete(Heartbeat).where(Heartbeat.beat_at < now - FORGET_AFTER))
    return getattr(result, "rowcount", 0) or 0
