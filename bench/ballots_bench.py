"""Fifty representatives vote at the same moment on one project.

A seven-step project is driven to its vote with ``voters`` representatives; then every
ballot is submitted at once (one thread and one transaction each, released together), as
at a representatives' meeting. Printed: how many were refused with an error, and the
latency of a ballot (p50, p99), on SQLite and, with ``--postgres``, on PostgreSQL.

    python -m cli bench ballots --voters 50 [--postgres URL]
"""
import os
import tempfile
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import select

from bench.pg import pg_schema
from engine.config import PROJECT_ROOT, load_settings
from engine.core.db import unit_of_work, upgrade_schema
from engine.core.deployments import deploy, read_bundle
from engine.core.models import Task
from engine.wiring import build_services
from engine.method.driver import cast_all, drive_to_ballots, make_world, start_project

def setup(url, voters):
    """A database with the process deployed and a project waiting for ``voters`` ballots:
    ``(services, instance id, [(task id, username)])``."""
    services = build_services(load_settings(database_url=url))
    upgrade_schema(services.db)
    bpmn, forms = read_bundle([PROJECT_ROOT / "processes"])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "bench")
        world = make_world(session, representatives=voters)
    instance_id = start_project(services, world)
    return services, instance_id, drive_to_ballots(services, instance_id, voters)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def run(voters=50, postgres_url=None, echo=print):
    results = []
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        urls = [("SQLite", f"sqlite:///{Path(tmp) / 'ballots.db'}")]
        if postgres_url:
            urls.append(("PostgreSQL", stack.enter_context(pg_schema(postgres_url, f"bench_ballots_{os.getpid()}"))))
        for name, url in urls:
            services, instance_id, ballots = setup(url, voters)
            stack.callback(services.db.dispose)
            errors, latencies = cast_all(services, ballots)
            with unit_of_work(services.session_factory, readonly=True) as session:
                left = session.scalars(select(Task.id).where(Task.instance_id == instance_id, Task.bpmn_id == "cast_ballot",
                                                             Task.state == "ready")).all()
            echo(f"{name}: {len(ballots)} ballots at once: {len(errors)} errors, {len(left)} left waiting, "
                 f"latency p50 {percentile(latencies, 50) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms")
            for error in sorted(set(errors))[:3]:
                echo(f"  {error}")
            results.append((len(errors), percentile(latencies, 99)))
    echo(f"ballots: {sum(e for e, _ in results)} errors, p99 "
         + ", ".join(f"{p99 * 1000:.0f} ms" for _, p99 in results))
    return results
