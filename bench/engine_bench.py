"""Seven-step lifecycles per second: the persisted engine vs raw SpiffWorkflow in memory.

Both run the same diagram (processes/seven_step_project.bpmn) with the same form data and
service results. The engine side goes through the public runtime API with a SQLite file,
one transaction per task or job, as users and workers would; the raw side keeps one
workflow object in memory and never stores it. Three engine figures:

- one process, the instance kept in memory between steps (the cache always hits);
- every step a cache miss (each step loads its instance from the database);
- ``sanshe serve``'s process layout (``bench/serve_layout.py``): this process completes the
  people's tasks, a real ``sanshe worker`` process takes the jobs with the real handlers,
  several projects at once; steps alternate between the processes as they do in production.

    python -m bench.engine_bench [--lifecycles N] [--rounds R] [--postgres URL] [--serve-projects N]
"""
import argparse
import os
import platform
import tempfile
import threading
from contextlib import ExitStack, contextmanager
import time
from pathlib import Path

from sqlalchemy import String, bindparam, cast, literal, null, select, union_all

from engine.method.driver import default_choices, fill, service_result
from bench.pg import pg_schema
from engine.core import spiff
from engine.config import PROJECT_ROOT, load_settings
from engine.core.db import checkpoint, unit_of_work, upgrade_schema
from engine.core.deployments import deploy, read_bundle
from engine.core.models import Job, Task, User
from engine.wiring import build_services
from engine.method.driver import make_world
from bench.serve_layout import run_lifecycles

KEY = "seven_step_project"


def raw_lifecycle(spec, subprocess_specs, forms, project, rounds, script_engine=None):
    """One lifecycle in memory; returns the number of human tasks and jobs completed."""
    choices = default_choices(rounds=rounds)
    workflow = spiff.new_workflow(spec, subprocess_specs, script_engine, {"project": dict(project)})
    workflow.do_engine_steps()
    steps = 0
    while not workflow.is_completed():
        human, services, _ = spiff.open_tasks(workflow)
        if services:
            task = services[0]
            spiff.complete_service(task, service_result(task.task_spec.topic, task.data))
        elif human:
            task = human[0]
            form = forms[spiff.task_properties(task)["formJsonSchemaFilename"]]
            spiff.run_user_task(task, fill(form, choices))
        else:
            raise RuntimeError("lifecycle stuck")
        workflow.do_engine_steps()
        steps += 1
    return steps


# The client's one query for its next piece of work: a waiting job first (workers take
# those at once), else the oldest waiting task.
_JOBS, _TASKS = Job.__table__, Task.__table__
NEXT_WORK = union_all(
    select(literal("job").label("kind"), cast(_JOBS.c.id, String).label("id"), null().label("definition_id"),
           null().label("form_key"), null().label("assignee"), null().label("role"), literal(0).label("rank"),
           _JOBS.c.created_at)
    .where(_JOBS.c.instance_id == bindparam("instance"), _JOBS.c.state == "ready"),
    select(literal("task"), _TASKS.c.id, _TASKS.c.definition_id, _TASKS.c.form_key, _TASKS.c.assignee,
           _TASKS.c.role, literal(1), _TASKS.c.created_at)
    .where(_TASKS.c.instance_id == bindparam("instance"), _TASKS.c.state == "ready"),
).order_by("rank", "created_at").limit(1)


def engine_lifecycle(services, world, users_by_role, rounds, step_times=None):
    """One lifecycle through the runtime API, one transaction per task or job.

    Like a client that knows its next piece of work: one query finds it (a waiting job
    first, as workers would take it at once), then the runtime completes it.
    """
    runtime, factory = services.runtime, services.session_factory
    choices = default_choices(rounds=rounds)
    people = {}
    with unit_of_work(factory) as session:
        for user in session.scalars(select(User)):
            people[user.username] = user
        instance_id = runtime.start_instance(
            session, KEY, people["orgstaff"], {"title": "居家养老服务", "organization_id": world.org.id,
                                               "catalog_item_id": world.item.id}).id
    steps = 0
    while True:
        started = time.perf_counter()
        with unit_of_work(factory) as session:
            found = session.connection().execute(NEXT_WORK, {"instance": instance_id}).first()
            if found is None:
                return steps
            if found.kind == "job":
                job = session.get(Job, int(found.id))
                assert job is not None  # just found
                runtime.complete_job(session, job, service_result(job.topic, job.variables), "bench")
            else:
                form = runtime.spec_cache.definition(session, found.definition_id).forms[found.form_key]
                user = people[found.assignee or users_by_role[found.role]]
                runtime.complete_task(session, found.id, user, fill(form, choices))
        if step_times is not None:
            step_times.append(time.perf_counter() - started)
        steps += 1


@contextmanager
def scheduler_checkpoints(db, interval):
    """What `sanshe scheduler` does beside the web UI and the workers on SQLite: copy the
    write-ahead log into the database file once per pass (here a thread, there a process)."""
    stop = threading.Event()

    def loop():
        while not stop.wait(interval):
            checkpoint(db)

    thread = threading.Thread(target=loop, name="checkpoints", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _engine_side(url, bpmn, forms, **settings):
    services = build_services(load_settings(database_url=url, **settings))
    upgrade_schema(services.db)
    with unit_of_work(services.session_factory) as session:
        (definition, _), = deploy(session, services.runtime.spec_cache, bpmn, forms, "bench")
        world = make_world(session)
    return services, world, definition


def run(lifecycles=30, rounds=2, postgres_url=None, serve_projects=8):
    """Print and return the ratio persisted / raw; with ``postgres_url`` the engine also runs
    on PostgreSQL (in a schema of its own, dropped afterwards) in the same interleaved run.
    ``serve_projects`` projects then run at once in the serve layout (0: skip)."""
    bpmn, forms = read_bundle([PROJECT_ROOT / "processes"])
    users_by_role = {"social_organization": "orgstaff", "community_committee": "committee",
                     "town_government": "town", "supervisor": "supervisor"}
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        services, world, definition = _engine_side(f"sqlite:///{Path(tmp) / 'bench.db'}", bpmn, forms)
        stack.callback(services.db.dispose)
        stack.enter_context(scheduler_checkpoints(services.db, services.settings.scheduler_interval))
        definition_forms = definition.forms
        # The same engine with no workflow kept in memory: every step loads its instance from
        # the database, as in `sanshe serve` when the step lands on a process (or thread of
        # another worker) that did not run the instance's previous step.
        cold, cold_world, _ = _engine_side(f"sqlite:///{Path(tmp) / 'cold.db'}", bpmn, forms)
        cold.runtime.hot.capacity = 0
        stack.callback(cold.db.dispose)
        # The same engine with diagram code run in its own process (checks and deadline only,
        # SANSHE_SCRIPT_SANDBOX=0): what the sandbox processes cost, side by side.
        inproc, inproc_world, _ = _engine_side(f"sqlite:///{Path(tmp) / 'inproc.db'}", bpmn, forms,
                                               script_sandbox=False)
        stack.callback(inproc.db.dispose)
        pg = None
        if postgres_url:
            pg = _engine_side(stack.enter_context(pg_schema(postgres_url, f"bench_engine_{os.getpid()}")), bpmn, forms)
            stack.callback(pg[0].db.dispose)
        spec, subprocess_specs = services.runtime.spec_cache.get(definition)
        project = {"title": "居家养老服务", "organization_id": world.org.id, "catalog_item_id": world.item.id,
                   "social_work": False, "lead": "orgstaff"}

        raw_steps = raw_lifecycle(spec, subprocess_specs, definition_forms, project, rounds)  # warm-up
        engine_lifecycle(services, world, users_by_role, rounds)
        engine_lifecycle(cold, cold_world, users_by_role, rounds)
        engine_lifecycle(inproc, inproc_world, users_by_role, rounds)
        if pg:
            engine_lifecycle(pg[0], pg[1], users_by_role, rounds)

        # Interleaved, one lifecycle of each in turn: the machine's speed drifts, and the
        # ratio should not depend on which side ran while it was slow.
        raw_time = sandboxed_time = engine_time = pg_time = cold_time = inproc_time = 0.0
        step_times, cold_step_times, inproc_step_times = [], [], []
        for _ in range(lifecycles):
            t0 = time.perf_counter()
            raw_lifecycle(spec, subprocess_specs, definition_forms, project, rounds)
            t1 = time.perf_counter()
            raw_lifecycle(spec, subprocess_specs, definition_forms, project, rounds, services.runtime.script_engine)
            t2 = time.perf_counter()
            engine_steps = engine_lifecycle(services, world, users_by_role, rounds, step_times)
            t3 = time.perf_counter()
            raw_time, sandboxed_time, engine_time = raw_time + t1 - t0, sandboxed_time + t2 - t1, engine_time + t3 - t2
            engine_lifecycle(cold, cold_world, users_by_role, rounds, cold_step_times)
            t4 = time.perf_counter()
            cold_time += t4 - t3
            engine_lifecycle(inproc, inproc_world, users_by_role, rounds, inproc_step_times)
            inproc_time += time.perf_counter() - t4
            if pg:
                t0 = time.perf_counter()
                engine_lifecycle(pg[0], pg[1], users_by_role, rounds)
                pg_time += time.perf_counter() - t0

    raw_rate, sandboxed_rate, engine_rate = (lifecycles / t for t in (raw_time, sandboxed_time, engine_time))
    print(f"machine: {platform.machine()} {platform.system()} python {platform.python_version()}")
    print(f"diagram: {KEY}, {rounds} revision rounds, {raw_steps} tasks+jobs per lifecycle "
          f"(engine: {engine_steps}), {lifecycles} lifecycles each")
    print(f"raw SpiffWorkflow, in memory, stock script engine: {raw_rate:8.1f} lifecycles/s")
    print(f"raw SpiffWorkflow, in memory, restricted scripts:  {sandboxed_rate:8.1f} lifecycles/s "
          f"({'in sandbox processes' if services.settings.script_sandbox else 'in-process'})")
    print(f"Sanshe engine, SQLite file, one commit per step:   {engine_rate:8.1f} lifecycles/s")
    inproc_rate = lifecycles / inproc_time
    print(f"Sanshe engine, SQLite file, scripts in-process:    {inproc_rate:8.1f} lifecycles/s "
          f"(sandbox processes cost {(inproc_rate / engine_rate - 1) * 100:+.1f}% time per lifecycle)")
    if pg:
        pg_rate = lifecycles / pg_time
        print(f"Sanshe engine, PostgreSQL, one commit per step:    {pg_rate:8.1f} lifecycles/s "
              f"({pg_rate / raw_rate:.2f}x raw)")
    cold_rate = lifecycles / cold_time
    print(f"Sanshe engine, SQLite, every step a cache miss:    {cold_rate:8.1f} lifecycles/s "
          f"({cold_rate / raw_rate:.2f}x raw)")
    p50, p99 = _percentiles(step_times, (50, 99))
    print(f"Sanshe engine, SQLite, one step (query, step, commit): p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    hot50 = p50
    p50, p99 = _percentiles(inproc_step_times, (50, 99))
    print(f"Sanshe engine, SQLite, one step, scripts in-process:  p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    p50, p99 = _percentiles(cold_step_times, (50, 99))
    print(f"Sanshe engine, SQLite, one step loading its instance: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
          f"({p50 / hot50:.2f}x a cache hit)")
    print(f"ratio persisted / raw: {engine_rate / raw_rate:.2f}x  (vs raw with restricted scripts: "
          f"{engine_rate / sandboxed_rate:.2f}x)")
    if serve_projects:
        serve_layout(serve_projects, rounds, postgres_url)
    return engine_rate / raw_rate


def serve_layout(projects, rounds, postgres_url=None):
    """Whole lifecycles in ``sanshe serve``'s process layout, on SQLite (and PostgreSQL)."""
    cases = [("SQLite", None)] + ([("PostgreSQL", postgres_url)] if postgres_url else [])
    for backend, admin_url in cases:
        with ExitStack() as stack:
            if admin_url:
                url = stack.enter_context(pg_schema(admin_url, f"bench_serve_{os.getpid()}"))
            else:
                url = f"sqlite:///{Path(stack.enter_context(tempfile.TemporaryDirectory())) / 'serve.db'}"
            r = run_lifecycles(url, projects, workers=1, rounds=rounds)
        steps = r["tasks"] + r["jobs"]
        print(f"Sanshe engine, {backend}, serve layout ({r['projects']} projects at once, tasks here, jobs in "
              f"1 worker process, real handlers): {r['completed'] / r['seconds']:.2f} lifecycles/s, "
              f"{steps / r['seconds']:.1f} steps/s ({r['tasks']} tasks + {r['jobs']} jobs in {r['seconds']:.1f} s; "
              f"completed {r['completed']}, incidents {r['incidents']})")


def _percentiles(values, which):
    ordered = sorted(values) or [0.0]
    return [ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] for q in which]


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", metavar="URL", help="also run the engine on this PostgreSQL database "
                        "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    parser.add_argument("--serve-projects", type=int, default=8,
                        help="projects run at once in the serve layout (0: skip)")
    args = parser.parse_args()
    run(args.lifecycles, args.rounds, args.postgres, args.serve_projects)


if __name__ == "__main__":
    main()
