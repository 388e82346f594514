"""Revise-and-resubmit at any length: the cost of a step as the consultation rounds pile up.

One seven-step project goes through ``rounds`` consultation rounds (consult, revise) through
the public runtime API, one transaction per step, then on to its end (payment); printed:
milliseconds per step around rounds 1, 100, 300 and 1,000 (the median of the steps of the
nearby rounds), the bytes stored for the instance, and whether it then ran to payment.

    python -m cli bench loop --rounds 1000 [--postgres URL]
"""
import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import func, select

from bench.engine_bench import KEY, NEXT_WORK, _engine_side
from engine.method.driver import default_choices, fill, service_result
from bench.pg import pg_schema
from engine.config import PROJECT_ROOT
from engine.core.db import unit_of_work
from engine.core.deployments import read_bundle
from engine.core.models import Event, Instance, Job, StatePart, User

USERS_BY_ROLE = {"social_organization": "orgstaff", "community_committee": "committee",
                 "town_government": "town", "supervisor": "supervisor"}
MARKS = (1, 100, 300, 1000)
WINDOW = 2  # rounds each side of a mark whose steps are measured
# The stored state swings as finished runs pile up and are cut back (about every 12 rounds):
# the largest size within this many rounds of a mark is reported.
SIZE_WINDOW = 7


def drive(services, world, rounds):
    """Run one project; returns ``({round: [(wall, cpu) seconds per step]}, {round: stored bytes},
    instance id)``."""
    runtime, factory = services.runtime, services.session_factory
    choices = default_choices(rounds=rounds)
    with unit_of_work(factory) as session:
        people = {user.username: user for user in session.scalars(select(User))}
        instance_id = runtime.start_instance(session, KEY, people["orgstaff"], {
            "title": "居家养老服务", "organization_id": world.org.id, "catalog_item_id": world.item.id}).id
    per_round, sizes, current = {}, {}, 0
    while True:
        started, cpu = time.perf_counter(), time.process_time()
        with unit_of_work(factory) as session:
            found = session.connection().execute(NEXT_WORK, {"instance": instance_id}).first()
            if found is None:
                return per_round, sizes, instance_id
            if found.kind == "job":
                job = session.get(Job, int(found.id))
                assert job is not None
                runtime.complete_job(session, job, service_result(job.topic, job.variables), "bench")
                activity = job.bpmn_id
            else:
                form = runtime.spec_cache.definition(session, found.definition_id).forms[found.form_key]
                user = people[found.assignee or USERS_BY_ROLE[found.role]]
                activity = runtime.complete_task(session, found.id, user, fill(form, choices)).bpmn_id
        if activity == "consultation_meeting":
            current += 1
        if activity in ("consultation_meeting", "revise_application"):
            per_round.setdefault(current, []).append((time.perf_counter() - started, time.process_time() - cpu))
        if activity == "revise_application" and any(abs(current - mark) <= SIZE_WINDOW for mark in MARKS):
            with unit_of_work(factory, readonly=True) as session:
                sizes[current] = stored_bytes(session, instance_id)


def stored_bytes(session, instance_id):
    instance = session.get(Instance, instance_id)
    state = instance.state if instance is not None else ""
    parts = session.scalars(select(StatePart.body).where(StatePart.instance_id == instance_id)).all()
    return len(state.encode()) + sum(len(p.encode()) for p in parts)


def report(name, services, world, rounds, echo):
    per_round, sizes, instance_id = drive(services, world, rounds)
    with unit_of_work(services.session_factory, readonly=True) as session:
        paid = session.scalar(select(func.count()).where(
            Event.instance_id == instance_id, Event.activity_id == "pay_final_installment",
            Event.transition == "complete")) == 1
        size = stored_bytes(session, instance_id)
        instance = session.get(Instance, instance_id)
        outcome = instance.outcome if instance is not None else None
    cells, cpu_cells = [], []
    for mark in (m for m in MARKS if m <= rounds):
        steps = [t for r in range(max(1, mark - WINDOW), min(rounds, mark + WINDOW) + 1) for t in per_round.get(r, [])]
        cells.append(f"round {mark}: {statistics.median(s[0] for s in steps) * 1000:.1f} ms")
        cpu_cells.append(f"round {mark}: {statistics.median(s[1] for s in steps) * 1000:.1f} ms")
    echo(f"{name}: ms per step (wall)  " + ", ".join(cells))
    echo(f"{name}: ms per step (CPU)   " + ", ".join(cpu_cells))
    peaks = {mark: max(b for r, b in sizes.items() if abs(r - mark) <= SIZE_WINDOW) for mark in MARKS if mark <= rounds}
    echo(f"{name}: stored bytes per instance (largest near)  " + ", ".join(f"round {r}: {b:,}" for r, b in peaks.items())
         + f"; at the end: {size:,} (outcome: {outcome})")
    return paid


def run(rounds=1000, postgres_url=None, echo=print):
    bpmn, forms = read_bundle([PROJECT_ROOT / "processes"])
    paid = []
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        services, world, _ = _engine_side(f"sqlite:///{Path(tmp) / 'loop.db'}", bpmn, forms)
        stack.callback(services.db.dispose)
        paid.append(report("SQLite", services, world, rounds, echo))
        if postgres_url:
            url = stack.enter_context(pg_schema(postgres_url, f"bench_loop_{os.getpid()}"))
            pg_services, pg_world, _ = _engine_side(url, bpmn, forms)
            stack.callback(pg_services.db.dispose)
            paid.append(report("PostgreSQL", pg_services, pg_world, rounds, echo))
    echo(f"after {rounds} rounds the project ran to payment: {'yes' if all(paid) else 'NO'}")
    return all(paid)
