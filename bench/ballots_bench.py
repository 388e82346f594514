"""Fifty representatives vote at the same moment on one project.

A seven-step project is driven to its vote with ``voters`` representatives; then every
ballot is submitted at once (one thread and one transaction each, released together), as
at a representatives' meeting. Printed: how many were refused with an error, and the
latency of a ballot (p50, p99), on SQLite and, with ``--postgres``, on PostgreSQL.

    python -m cli bench ballots --voters 50 [--postgres URL]
"""
import os
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import select

from engine.method.driver import default_choices, fill, service_result
from bench.pg import pg_schema
from engine.config import PROJECT_ROOT, load_settings
from engine.core.db import unit_of_work, upgrade_schema
from engine.core.deployments import deploy, read_bundle
from engine.core.models import Job, Task, User
from engine.wiring import build_services
from engine.method.driver import make_world

KEY = "seven_step_project"
USERS_BY_ROLE = {"social_organization": "orgstaff", "community_committee": "committee",
                 "town_government": "town", "supervisor": "supervisor"}


def setup(url, voters):
    """A database with the process deployed and a project waiting for ``voters`` ballots:
    ``(services, instance id, [(task id, username)])``."""
    services = build_services(load_settings(database_url=url))
    upgrade_schema(services.db)
    bpmn, forms = read_bundle([PROJECT_ROOT / "processes"])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "bench")
        world = make_world(session, representatives=voters)
        org = session.get(User, world.users.org.id)
        assert org is not None
        instance_id = services.runtime.start_instance(session, KEY, org, {
            "title": "居家养老服务", "organization_id": world.org.id, "catalog_item_id": world.item.id}).id
    names = [f"rep{i}" for i in range(voters)]
    choices = default_choices()
    while True:
        with unit_of_work(services.session_factory) as session:
            job = session.scalars(select(Job).where(Job.instance_id == instance_id, Job.state == "ready")).first()
            if job is not None:
                result = service_result(job.topic, {**job.variables, "bench_voters": names})
                services.runtime.complete_job(session, job, result, "bench")
                continue
            rows = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
                                   .order_by(Task.created_at, Task.id)).all()
            ballots = [(r.id, r.assignee) for r in rows if r.bpmn_id == "cast_ballot"]
            if ballots:
                return services, instance_id, ballots
            row = rows[0]
            user = session.scalar(select(User).where(User.username == (row.assignee or USERS_BY_ROLE[row.role])))
            assert user is not None
            services.runtime.complete_task(session, row.id, user, fill(services.runtime.task_form(session, row.id, user),
                                                                       choices))


def cast_all(services, ballots):
    """Submit every ballot at once; returns ``(errors, [seconds])``."""
    barrier = threading.Barrier(len(ballots))
    errors, latencies, lock = [], [], threading.Lock()
    with unit_of_work(services.session_factory, readonly=True) as session:
        users = {u.username: u for u in session.scalars(select(User))}

    def vote(task_id, username):
        barrier.wait()
        started = time.perf_counter()
        try:
            with unit_of_work(services.session_factory) as session:
                services.runtime.complete_task(session, task_id, users[username], {"ballot": "yes"})
        except Exception as exc:  # counted and shown: any refusal is what this measures
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        with lock:
            latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=vote, args=ballot) for ballot in ballots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors, latencies


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
