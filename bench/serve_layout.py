"""Seven-step projects run in ``sanshe serve``'s process layout.

This process plays the web processes: it completes the people's tasks through the runtime,
one transaction each. Real ``sanshe worker`` processes (``python -m cli worker``, the
handlers of ``workers/registry.py``) take every service task: eligibility against the
register, the vote roster and tally, earmarking the town's budget, sealing and signing the
agreement, payments, the panel check and the acceptance decision. A step that lands in the
other process finds the instance in neither process's memory as it was left, so the
runtime's cache of loaded instances misses as it does under ``sanshe serve``.

Used by ``bench/worker_bench.py`` (jobs that move real instances) and
``bench/engine_bench.py`` (whole lifecycles).
"""
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import func, select

from engine.config import PROJECT_ROOT, load_settings
from engine.core.db import unit_of_work, upgrade_schema
from engine.core.deployments import deploy, read_bundle
from engine.core.models import Instance, Job, Task, User, utcnow
from engine.method import funds
from engine.method.catalog import this_year
from engine.method.driver import default_choices, fill, make_world
from engine.wiring import Services, build_services

KEY = "seven_step_project"
USERS_BY_ROLE = {"social_organization": "orgstaff", "community_committee": "committee",
                 "town_government": "town", "supervisor": "supervisor"}


@dataclass
class World:
    services: Services
    org_id: int
    item_id: int
    people: dict


def prepare(url, projects):
    """Schema, the diagram, one town with its people, a budget and an organization allowed
    to run ``projects`` projects at once."""
    services = build_services(load_settings(database_url=url))
    upgrade_schema(services.db)
    bpmn, forms = read_bundle([PROJECT_ROOT / "processes"])
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, bpmn, forms, "bench")
        world = make_world(session)
        world.org.max_concurrent_projects = projects + 1
        for year in {this_year(), utcnow().year}:  # the earmark reads the runtime clock's year
            funds.set_budget(session, world.town.id, year, 50_000 * (projects + 1), "bench")
        org_id, item_id = world.org.id, world.item.id
    with unit_of_work(services.session_factory) as session:
        people = {user.username: user.id for user in session.scalars(select(User))}
    return World(services, org_id, item_id, people)


def start_projects(world, count):
    """Start ``count`` projects; returns their instance ids."""
    runtime, factory = world.services.runtime, world.services.session_factory
    ids = []
    for n in range(count):
        with unit_of_work(factory) as session:
            org_user = session.get(User, world.people["orgstaff"])
            ids.append(runtime.start_instance(session, KEY, org_user, {
                "title": f"居家养老服务 {n}", "organization_id": world.org_id, "catalog_item_id": world.item_id}).id)
    return ids


def lifecycle_choices(rounds):
    """The driver's choices for a whole lifecycle; the town buys for what the filled-in
    application asks (the method refuses more than the voted budget)."""
    return {**default_choices(rounds=rounds), "purchase_amount": 1000.0, "purchase_first_installment": 300.0,
            "purchase_final_installment": 700.0}


def complete_ready_tasks(world, choices_of, limit=None):
    """Complete the people's tasks waiting now (oldest first), one transaction each, as the
    web processes would; returns how many."""
    runtime, factory = world.services.runtime, world.services.session_factory
    with unit_of_work(factory, readonly=True) as session:
        rows = session.execute(select(Task.id, Task.instance_id, Task.definition_id, Task.form_key, Task.assignee,
                                      Task.role).where(Task.state == "ready").order_by(Task.created_at, Task.id)
                               .limit(limit)).all()
    for task_id, instance_id, definition_id, form_key, assignee, role in rows:
        with unit_of_work(factory) as session:
            form = runtime.spec_cache.definition(session, definition_id).forms[form_key]
            user = session.get(User, world.people[assignee or USERS_BY_ROLE[role]])
            runtime.complete_task(session, task_id, user, fill(form, choices_of(instance_id)))
    return len(rows)


def counts(world):
    """{"running", "completed", "jobs_open", "jobs_completed", "incidents"} now."""
    with unit_of_work(world.services.session_factory, readonly=True) as session:
        status = dict(session.execute(select(Instance.status, func.count()).group_by(Instance.status)).all())
        jobs = dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
    return {"running": status.get("running", 0), "completed": status.get("completed", 0),
            "jobs_open": sum(n for state, n in jobs.items() if state in ("ready", "locked")),
            "jobs_completed": jobs.get("completed", 0), "incidents": jobs.get("incident", 0),
            "waiting": jobs.get("waiting", 0)}


def job_span(world):
    """(jobs completed, seconds from the first completion to the last)."""
    with unit_of_work(world.services.session_factory, readonly=True) as session:
        n, first, last = session.execute(select(func.count(), func.min(Job.completed_at), func.max(Job.completed_at))
                                         .where(Job.state == "completed")).one()
    return n, (last - first).total_seconds() if n > 1 and first and last else 0.0


@contextmanager
def worker_processes(url, count, until_idle=False):
    """``count`` real ``sanshe worker`` processes on ``url`` (stopped with SIGTERM, as
    ``sanshe serve`` stops them, unless they end by themselves when idle)."""
    env = {**os.environ, "SANSHE_DATABASE_URL": url, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "cli", "worker", "--concurrency", "1"] + (["--until-idle"] if until_idle else [])
    procs = [subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_lifecycles(url, projects, workers, rounds=2, timeout=1800):
    """Run ``projects`` whole lifecycles at once in the serve layout.

    Returns {"projects", "completed", "seconds", "steps", "jobs", "tasks", "incidents"}; the
    clock starts once the worker processes have started (their import time is left out).
    """
    world = prepare(url, projects)
    ids = start_projects(world, projects)
    choices = {instance_id: lifecycle_choices(rounds) for instance_id in ids}
    tasks = 0
    with worker_processes(url, workers):
        time.sleep(3)  # let the workers import and connect before the clock starts
        began = time.perf_counter()
        while time.perf_counter() - began < timeout:
            done = complete_ready_tasks(world, choices.__getitem__)
            tasks += done
            now = counts(world)
            if now["running"] == 0:
                break
            if not done:
                if now["jobs_open"] == 0 and now["incidents"] + now["waiting"] > 0:
                    break  # stuck: a handler failed or a job waits; reported below
                time.sleep(0.05)
        seconds = time.perf_counter() - began
    final = counts(world)
    world.services.db.dispose()
    return {"projects": projects, "completed": final["completed"], "seconds": round(seconds, 2),
            "tasks": tasks, "jobs": final["jobs_completed"], "incidents": final["incidents"] + final["waiting"],
            "workers": workers}


def run_jobs(url, projects, workers):
    """Jobs that move real instances: ``projects`` projects each waiting at the eligibility
    check (a real job after the first task), then ``workers`` worker processes take them all.

    Returns {"jobs", "seconds" (first to last completion), "wall" (with process start-up),
    "moved" (projects now at the town's approval or ended as not eligible), "incidents"}.
    """
    world = prepare(url, projects)
    ids = start_projects(world, projects)
    complete_ready_tasks(world, lambda _: default_choices())  # confirm_catalog_item: each starts its job
    world.services.db.dispose()
    began = time.perf_counter()
    with worker_processes(url, workers, until_idle=True) as procs:
        for proc in procs:
            proc.wait(timeout=1800)
    wall = time.perf_counter() - began
    jobs, seconds = job_span(world)
    with unit_of_work(world.services.session_factory, readonly=True) as session:
        moved = session.scalar(select(func.count()).select_from(Task).where(
            Task.state == "ready", Task.bpmn_id == "approve_qualification", Task.instance_id.in_(ids)))
        not_eligible = session.scalar(select(func.count()).select_from(Instance).where(
            Instance.id.in_(ids), Instance.status == "completed"))
    final = counts(world)
    world.services.db.dispose()
    return {"jobs": jobs, "seconds": round(seconds, 2), "wall": round(wall, 2), "workers": workers,
            "rate": round(jobs / seconds) if seconds else 0, "moved": (moved or 0) + (not_eligible or 0),
            "incidents": final["incidents"] + final["waiting"]}
