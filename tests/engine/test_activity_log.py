"""The mining tables the engine keeps while it runs equal a fold of the whole event log."""
from datetime import datetime, timedelta

from sqlalchemy import select, text

from engine.method.driver import People, default_choices, drive, service_result
from engine.mining.fold import rebuild
from engine.core.db import unit_of_work
from engine.core.jobs import JobQueue
from engine.mining.logview import epoch_seconds, epoch_sql
from engine.core.models import Job
from tests.engine.test_seven_steps import start

TABLES = {"mining_cases": "instance_id", "mining_acts": "task_id", "mining_activities": "activity_id"}


def snapshot(session):
    return {table: [dict(r._mapping) for r in session.execute(text(f"SELECT * FROM {table} ORDER BY {key}"))]
            for table, key in TABLES.items()}


class Claiming(People):
    """People who claim a task before they complete it."""

    def claim(self, task):
        return True


def run_through_worker_queue(services, instance_id):
    """Jobs fetched and completed by a worker, tasks claimed before they are completed."""
    queue = JobQueue(services.settings, services.runtime)

    def work():
        while True:
            with unit_of_work(services.session_factory) as session:
                topics = list(session.scalars(select(Job.topic).where(Job.instance_id == instance_id,
                                                                      Job.state == "ready")))
                if not topics:
                    return
                # Stand-in results record no facts, so they are handed to the runtime directly
                # (the queue refuses a rule topic's result that no recorded fact backs).
                for job in queue.fetch_and_lock(session, topics, "worker-1", max_jobs=len(topics)):
                    services.runtime.complete_job(session, session.get(Job, job.id),
                                                  service_result(job.topic, job.variables), "worker-1")
    assert drive(services, instance_id, Claiming(default_choices(rounds=1)), work=work, answer=None) is None


def test_tables_kept_at_write_time_equal_a_rebuild_from_the_events(seven_steps):
    services, world = seven_steps
    run_through_worker_queue(services, start(services, world, world.sw_item))
    start(services, world, world.item)  # a running case too
    with unit_of_work(services.session_factory) as session:
        kept = snapshot(session)
        rebuild(session)
        rebuilt = snapshot(session)
    assert len(kept["mining_cases"]) == 2 and len(kept["mining_acts"]) > 30
    assert kept == rebuilt
    pickups = [r for r in kept["mining_acts"] if r["activity_type"] == "serviceTask"]
    assert pickups and all(r["t_pickup"] is not None for r in pickups)  # the worker's start was folded in
    edges = [r for r in kept["mining_acts"] if r["prev_activity"] is not None]
    assert len(edges) >= len([r for r in kept["mining_acts"] if r["t_done"] is not None]) - 2  # but each case's first
    assert len(kept["mining_activities"]) > 15


def test_write_time_seconds_equal_the_databases_even_at_half_milliseconds(seven_steps):
    """The fold written at each step and the rebuild in SQL must agree to the millisecond,
    including the moments a rounding rule decides (microseconds ending in 500)."""
    services, _world = seven_steps
    dialect = services.db.dialect.name
    moments = [datetime(2026, 11, 29, 22, 4, 26) + timedelta(seconds=s, microseconds=m)
               for s in range(0, 86400 * 300, 86400 * 7 + 3607) for m in (273500, 999500, 500, 0, 123456)]
    with unit_of_work(services.session_factory, readonly=True) as session:
        in_sql = [session.execute(text(f"SELECT {epoch_sql(':t', dialect)}"), {"t": moment}).scalar_one()
                  for moment in moments]
    assert [epoch_seconds(moment, dialect) for moment in moments] == in_sql
