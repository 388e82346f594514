"""Worker benchmark: jobs fetched, locked and completed per second through the real queue
(queue only: the jobs move no process instance, see ``workers/race.py``).

Each case fills a fresh database (SQLite file, or a PostgreSQL schema of its own) with jobs
of a no-op topic, starts 1 or 4 worker *processes*, releases them at once and measures until
the queue is empty. This measures the queue and the worker loop, not the BPMN engine
(``bench/engine_bench.py`` measures that).

Run: ``sanshe bench workers`` or ``python -m bench.worker_bench``.
"""
import os
import tempfile
from pathlib import Path

from bench.pg import PG_URL, pg_schema
from workers.race import run_case


def run_bench(jobs=3000, postgres_url=PG_URL, echo=print):
    echo(f"worker bench, queue only (no process instance moves): {jobs} jobs per case, batches of 10, one transaction per job; cpus={os.cpu_count()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 4):
            url = f"sqlite:///{Path(tmp) / f'bench{workers}.db'}"
            rows.append(("sqlite", run_case(url, jobs, workers)))
            echo(_line(*rows[-1]))
    if postgres_url:
        for workers in (1, 4):
            with pg_schema(postgres_url, f"bench_workers_{os.getpid()}_{workers}") as url:
                rows.append(("postgresql", run_case(url, jobs, workers)))
                echo(_line(*rows[-1]))
    return rows


def _line(backend, r):
    return (f"{backend:<10} {r['workers']} worker(s): {r['jobs']} jobs in {r['seconds']:.2f} s = {r['rate']} jobs/s, "
            f"duplicates {r['duplicates']}, not completed {r['left']}, per worker {r['per_worker']}")


if __name__ == "__main__":
    run_bench()
