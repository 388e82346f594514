"""Narrow tables mining reads instead of the raw event log.

The event log (``events``) holds one row per lifecycle transition; every report used to fold
it into activity instances first. These tables keep that fold up to date as events are
written (see :mod:`engine.mining.fold`): one row per activity instance and one per case.
Times are epoch seconds (UTC, as :func:`engine.mining.logview.epoch_sql` computes them), so
durations are plain subtractions.
"""
from sqlalchemy import BigInteger, Double, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.core.db import Base


# Durations of an activity instance, in seconds, as the indexes of MiningAct hold them.
WAITING = "t_pickup - t_sched"  # scheduled -> first assigned or started
WORKING = "t_done - COALESCE(t_start, t_pickup, t_sched)"  # started -> completed
TOTAL = "t_done - COALESCE(t_sched, t_start, t_pickup)"  # scheduled -> completed


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
    # The completion before this one in its case (in the order above) and its time: an edge of
    # the directly-follows graph, kept as completions are written.
    prev_activity: Mapped[str | None] = mapped_column(String(100))
    t_prev: Mapped[float | None] = mapped_column(Double)
    __table_args__ = (
        # Each case's completions in order, and joins on the case.
        Index("ix_mining_acts_instance", "instance_id", "t_done", "seq_done", "activity_id"),
        # Each activity's durations in order (see engine.mining.cycle_times): the whole log's
        # counts, sums, medians and p90s are read from these indexes, never from the rows.
        Index("ix_mining_acts_waiting", "activity_id", text(f"({WAITING})")),
        Index("ix_mining_acts_working", "activity_id", text(f"({WORKING})")),
        # (the total's index also holds the other durations and the counts, for one scan of them all)
        Index("ix_mining_acts_total", "activity_id", text(f"({TOTAL})"), text(f"({WAITING})"), text(f"({WORKING})"),
              "t_done", "t_cancel"),
        # The directly-follows graph's edges with their gaps.
        Index("ix_mining_acts_follows", "prev_activity", "activity_id", "instance_id", text("(t_done - t_prev)")),
    )


class MiningActivity(Base):
    """One BPMN activity: the largest name, type, step and role its instances were folded with.

    What a report shows beside an activity's figures, kept as instances are folded (the
    values only grow, as the aggregate over ``mining_acts`` would).
    """
    __tablename__ = "mining_activities"
    activity_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    activity_name: Mapped[str | None] = mapped_column(String(300))
    activity_type: Mapped[str | None] = mapped_column(String(20))
    step: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(40))
