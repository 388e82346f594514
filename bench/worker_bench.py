"""Worker benchmark, in two parts.

**Real instances** (what a deployment sees): projects each waiting at their eligibility
check, a real job of the seven-step diagram; 1 or 2 real ``sanshe worker`` processes take
them with the real handler (``workers/registry.py``), and each completed job moves its
project on to the town's approval (``bench/serve_layout.py``). Reported per second from the
first job completed to the last (worker start-up left out), and with start-up (wall).

**Queue only** (labelled so): jobs of a no-op topic that belong to no process; they are
fetched, locked and completed through the real queue and worker loop but move no instance
(``workers/race.py``). This measures the queue alone; the difference to the first part is
what the engine step and the handler cost.

Each case uses a fresh database (SQLite file, or a PostgreSQL schema of its own).

Run: ``sanshe bench workers`` or ``python -m bench.worker_bench``.
"""
import argparse
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from bench.pg import PG_URL, pg_schema
from bench.serve_layout import run_jobs
from workers.race import run_case

REAL_WORKERS = (1, 2)
QUEUE_WORKERS = (1, 4)


def run_bench(jobs: int = 3000, projects: int = 200, postgres_url: str | None = PG_URL, echo=print,
              parts=("real", "queue")):
    """Print and return ``[(part, backend, result)]``."""
    rows = []
    backends = [("sqlite", None)] + ([("postgresql", postgres_url)] if postgres_url else [])
    if "real" in parts:
        echo(f"worker bench, real instances: {projects} projects waiting at their eligibility check, real "
             f"`sanshe worker` processes and handlers, each job moves its project; cpus={os.cpu_count()}")
        for backend, url in backends:
            for workers in REAL_WORKERS:
                with _database(backend, url, f"real{workers}") as db_url:
                    rows.append(("real", backend, run_jobs(db_url, projects, workers)))
                echo(_real_line(backend, rows[-1][2]))
    if "queue" in parts:
        echo(f"worker bench, queue only (no process instance moves): {jobs} jobs per case, batches of 10, "
             f"one transaction per job; cpus={os.cpu_count()}")
        for backend, url in backends:
            for workers in QUEUE_WORKERS:
                with _database(backend, url, f"queue{workers}") as db_url:
                    rows.append(("queue", backend, run_case(db_url, jobs, workers)))
                echo(_queue_line(backend, rows[-1][2]))
    return rows


@contextmanager
def _database(backend, url, name):
    """A fresh database for one case: a SQLite file, or a PostgreSQL schema dropped after."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / f'{name}.db'}"
    else:
        with pg_schema(url, f"bench_workers_{os.getpid()}_{name}") as schema_url:
            yield schema_url


def _real_line(backend, r):
    return (f"real       {backend:<10} {r['workers']} worker(s): {r['jobs']} jobs in {r['seconds']:.2f} s = "
            f"{r['rate']} jobs/s ({r['wall']:.2f} s with start-up), projects moved {r['moved']}, "
            f"incidents {r['incidents']}")


def _queue_line(backend, r):
    return (f"queue only {backend:<10} {r['workers']} worker(s): {r['jobs']} jobs in {r['seconds']:.2f} s = "
            f"{r['rate']} jobs/s, duplicates {r['duplicates']}, not completed {r['left']}, "
            f"per worker {r['per_worker']}")


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000, help="queue-only jobs per case")
    parser.add_argument("--projects", type=int, default=200, help="real projects per case")
    parser.add_argument("--postgres", metavar="URL", default=PG_URL, help="also on PostgreSQL ('' to skip)")
    parser.add_argument("--part", choices=("real", "queue"), action="append", help="run only this part")
    args = parser.parse_args()
    run_bench(args.jobs, args.projects, args.postgres or None, parts=args.part or ("real", "queue"))


if __name__ == "__main__":
    main()
