"""Narrow tables mining reads instead of the raw event log.

The event log (``events``) holds one row per lifecycle transition; every report used to fold
it into activity instances first. These tables keep that fold up to date as events are
written (see :mod:`engine.mining.fold`): one row per activity instance and one per case.
Times are epoch seconds (UTC, as :func:`engine.mining.logview.epoch_sql` computes them), so
durations are plain subtractions.
"""
from sqlalchemy import BigInteger, Double, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.core.db import Base


class MiningCase(Base):
    """One process instance: its start and end as the instance events record them."""
    __tablename__ = "mining_cases"
    instance_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    definition_key: Mapped[str | None] = mapped_column(String(100))
    definition_version: Mapped[int | None] = mapped_column(Integer)
    town_id: Mapped[int | None] = mapped_column(Integer)
    community_id: Mapped[int | None] = mapped_column(Integer)
    organization_id: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(300))
    t_start: Mapped[float | None] = mapped_column(Double)  # first instance start
    t_end: Mapped[float | None] = mapped_column(Double)  # last instance complete or cancel
    ended: Mapped[int] = mapped_column(Integer, default=0)  # 2 completed, 1 cancelled, 0 running


class MiningAct(Base):
    """One activity instance (a task id; a message without one is keyed ``event-<event id>``)."""
    __tablename__ = "mining_acts"
    task_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    instance_id: Mapped[int] = mapped_column(BigInteger)
    activity_id: Mapped[str | None] = mapped_column(String(100))
    activity_name: Mapped[str | None] = mapped_column(String(300))
    activity_type: Mapped[str | None] = mapped_column(String(20))
    step: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(40))
    resource: Mapped[str | None] = mapped_column(String(120))  # who completed it
    definition_key: Mapped[str | None] = mapped_column(String(100))
    definition_version: Mapped[int | None] = mapped_column(Integer)
    town_id: Mapped[int | None] = mapped_column(Integer)
    community_id: Mapped[int | None] = mapped_column(Integer)
    organization_id: Mapped[int | None] = mapped_column(Integer)
    t_sched: Mapped[float | None] = mapped_column(Double)  # first schedule
    t_pickup: Mapped[float | None] = mapped_column(Double)  # first assign or start
    t_start: Mapped[float | None] = mapped_column(Double)  # first start
    t_done: Mapped[float | None] = mapped_column(Double)  # last complete
    t_cancel: Mapped[float | None] = mapped_column(Double)  # last cancel
    # The case's event sequence numbers (see Event.seq): of its first event and of its last
    # completion. Completions in one step share a time; these keep them in causal order.
    seq_first: Mapped[int | None] = mapped_column(Integer)
    seq_done: Mapped[int | None] = mapped_column(Integer)
    # Covers the directly-follows graph (each case's completions in order) as well as joins on the case.
    __table_args__ = (Index("ix_mining_acts_instance", "instance_id", "t_done", "seq_done", "activity_id"),)
