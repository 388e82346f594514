"""Worker processes racing over one queue of no-op jobs: each job must be processed once.

Fills a fresh database (SQLite file, or a PostgreSQL schema) with jobs of a no-op topic,
starts worker *processes*, releases them at once and waits until the queue is empty. Every
job goes through ``fetch_and_lock`` (batches of 10) and then ``JobQueue.execute`` in its
own transaction; the handler writes one audit row per run, so a job processed twice shows
up as a duplicate. The jobs belong to a minimal instance and complete at queue level
(:class:`~engine.core.testing.QueueOnlyRuntime`): no process instance moves.

Used by the reliability tests and the worker benchmark (``sanshe bench workers``).
"""
import multiprocessing as mp
import time

from engine.config import load_settings
from engine.core import audit, testing
from engine.core.db import make_engine, make_session_factory, tune_for_workers, unit_of_work, upgrade_schema
from engine.core.jobs import JobQueue, add_ready_jobs, state_totals
from engine.core.testing import QueueOnlyRuntime
from workers.worker import Worker, serve

TOPIC = "bench_noop"
RUN_ACTION = "bench_run"


def _noop(job):
    """The benchmark's handler: one row per run (duplicates would be visible)."""
    audit.record(job.session, job.worker_id, RUN_ACTION, str(job.job_id))
    return {"ok": True}


def fill(url, count):
    """Create the schema and ``count`` ready jobs of the no-op topic."""
    engine = make_engine(url)
    upgrade_schema(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        instance = testing.bare_instance(session, "bench")
        add_ready_jobs(session, instance.id, TOPIC, count)
    engine.dispose()


def worker_main(url, worker_id, start, results, batch=10):
    """One worker process: the real worker loop until the queue is empty."""
    engine = tune_for_workers(make_engine(url))
    queue = JobQueue(load_settings(database_url=url), QueueOnlyRuntime())
    worker = Worker(None, queue, {TOPIC: _noop}, worker_id, max_jobs=batch, lock_seconds=60)
    start.wait()
    counts = serve(worker, engine, until_idle=True)
    results.put((worker_id, counts["completed"], time.perf_counter()))
    engine.dispose()


def check(url):
    """(completed jobs, jobs run more than once, jobs not completed)."""
    engine = make_engine(url)
    with unit_of_work(make_session_factory(engine), readonly=True) as session:
        totals = state_totals(session)
        twice = audit.repeated_targets(session, RUN_ACTION)
    engine.dispose()
    completed = totals.get("completed", 0)
    return completed, twice, sum(totals.values()) - completed


def run_case(url, jobs, workers):
    """Fill, run ``workers`` processes, return {jobs, workers, seconds, rate, duplicates, left}."""
    fill(url, jobs)
    context = mp.get_context("spawn")
    start, results = context.Event(), context.Queue()
    procs = [context.Process(target=worker_main, args=(url, f"bench-{i}", start, results)) for i in range(workers)]
    for proc in procs:
        proc.start()
    time.sleep(1.5)  # let every process import and connect before the clock starts
    began = time.perf_counter()
    start.set()
    finished = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    seconds = max(end for _, _, end in finished) - began
    completed, twice, left = check(url)
    return {"jobs": completed, "workers": workers, "seconds": round(seconds, 2), "rate": round(completed / seconds),
            "duplicates": twice, "left": left, "per_worker": sorted(n for _, n, _ in finished)}
