"""The worker loop: fetch and lock jobs, run each handler, complete - one transaction per job.

A job's handler and its completion commit together (``JobQueue.execute``), so a worker
killed half-way leaves no effect behind and the job is fetched again when its lock expires.
A handler that raises a ``BusinessRuleError`` becomes a BPMN error, one that raises a
``WaitingError`` parks the job until what it waits for is there; any other exception
is reported as a failure (retries with backoff, then an incident). On stop (SIGTERM) the
worker finishes the job in hand and gives the rest of its batch back.
"""
import logging
import os
import signal
import socket
import threading
import time
import traceback

from sqlalchemy.exc import DBAPIError

from engine.core.db import make_session_factory, transient, tune_for_workers, unit_of_work
from engine.core.heartbeats import ProcessKind, beat
from engine.core.models import utcnow
from engine.errors import BusinessRuleError, WaitingError
from engine.core.jobs import JobQueue, LockLostError

log = logging.getLogger("sanshe.worker")
# Pauses of a worker that finds the database busy: doubling from the first to the last.
BUSY_BACKOFF_FIRST_SECONDS = 1.0
BUSY_BACKOFF_MAX_SECONDS = 30.0
# How often a worker renews its process heartbeat.
HEARTBEAT_SECONDS = 30.0


def default_worker_id(suffix=""):
    return f"{socket.gethostname()}:{os.getpid()}{suffix}"


class Worker:
    """One fetch -> handle -> complete loop over ``handlers`` ({topic: handler})."""

    def __init__(self, session_factory, queue, handlers, worker_id=None, max_jobs=5, lock_seconds=None,
                 poll_seconds=0.5, stop=None):
        self.session_factory = session_factory
        self.queue = queue
        self.handlers = dict(handlers)
        self.worker_id = worker_id or default_worker_id()
        self.max_jobs = max_jobs
        self.lock_seconds = lock_seconds
        self.poll_seconds = poll_seconds
        self.stop = stop or threading.Event()
        self.last_beat = -HEARTBEAT_SECONDS
        self.counts = {"completed": 0, "bpmn_error": 0, "waiting": 0, "failed": 0, "lost": 0, "released": 0}

    def fetch(self):
        with unit_of_work(self.session_factory) as session:
            return self.queue.fetch_and_lock(session, list(self.handlers), self.worker_id, self.max_jobs,
                                             self.lock_seconds)

    def run_once(self):
        """Fetch one batch and handle it; returns how many jobs were fetched."""
        batch = self.fetch()
        for index, job in enumerate(batch):
            if self.stop.is_set():
                self.release(batch[index:])
                break
            self.process(job)
        return len(batch)

    def run(self, until_idle=False):
        """Loop until ``stop`` is set (or, with ``until_idle``, until no job is left).

        The database away for a moment (SQLite's write lock held elsewhere past the busy
        timeout) makes the worker wait and try again, a pause doubling up to
        ``BUSY_BACKOFF_MAX_SECONDS``; it never exits for it. A job in hand keeps its lock
        and is fetched again once the lock expires, so nothing runs twice.
        """
        backoff = BUSY_BACKOFF_FIRST_SECONDS
        while not self.stop.is_set():
            try:
                self.beat()
                fetched = self.run_once()
            except DBAPIError as exc:
                if exc.connection_invalidated or not transient(exc):
                    raise  # a lost connection is replaced by serve(); anything else is a bug
                log.warning("worker %s: the database is busy (%s); trying again in %g s", self.worker_id,
                            str(exc.orig).splitlines()[0], backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, BUSY_BACKOFF_MAX_SECONDS)
                continue
            backoff = BUSY_BACKOFF_FIRST_SECONDS
            if fetched == 0:
                if until_idle:
                    return self.counts
                self.stop.wait(self.poll_seconds)
        return self.counts

    def beat(self):
        """Say in the process heartbeat that this worker is alive (every HEARTBEAT_SECONDS)."""
        now = time.monotonic()
        if now - self.last_beat < HEARTBEAT_SECONDS:
            return
        with unit_of_work(self.session_factory) as session:
            beat(session, ProcessKind.WORKER, utcnow(), {"topics": sorted(self.handlers)})
        self.last_beat = now

    def release(self, jobs):
        if not jobs:
            return
        with unit_of_work(self.session_factory) as session:
            released = self.queue.release(session, [j.id for j in jobs], self.worker_id, jobs[0].lock_token)
        self.counts["released"] += released
        log.info("worker %s released %d jobs on stop", self.worker_id, released)

    def process(self, job):
        """Handle one locked job: ``completed``, ``bpmn_error``, ``waiting``, ``released`` (what it
        would wait for came meanwhile), ``failed`` or ``lost``."""
        started = time.perf_counter()
        handler = self.handlers[job.topic]
        try:
            with unit_of_work(self.session_factory) as session:
                self.queue.execute(session, job.id, self.worker_id, job.lock_token, handler)
            outcome, detail = "completed", None
        except LockLostError as exc:
            # The lock expired and someone else has the job, or it was cancelled: not ours.
            self.counts["lost"] += 1
            log.warning("job %s %s lost: %s", job.id, job.topic, exc)
            return "lost"
        except WaitingError as exc:
            # Rolled back too; the job waits (no retry used) until what it needs is there.
            try:
                with unit_of_work(self.session_factory) as session:
                    if exc.arrived is not None and exc.arrived(session):
                        # It came while the handler ran: run the job again instead of parking it.
                        self.queue.release(session, [job.id], self.worker_id, job.lock_token)
                        self.counts["released"] += 1
                        return "released"
                    self.queue.park(session, job.id, self.worker_id, job.lock_token, exc.waiting_for, exc.message)
            except LockLostError as lost:
                self.counts["lost"] += 1
                log.warning("job %s %s lost before it could wait: %s", job.id, job.topic, lost)
                return "lost"
            self.counts["waiting"] += 1
            log.info("job %s %s waits for %s (instance %s)", job.id, job.topic, exc.waiting_for, job.instance_id)
            return "waiting"
        except BusinessRuleError as exc:
            # The handler's effects are rolled back; the diagram's error path takes over.
            try:
                with unit_of_work(self.session_factory) as session:
                    self.queue.bpmn_error(session, job.id, self.worker_id, job.lock_token, exc.code, exc.message,
                                          exc.details.get("variables"))
            except LockLostError as lost:
                self.counts["lost"] += 1
                log.warning("job %s %s lost before its BPMN error %s: %s", job.id, job.topic, exc.code, lost)
                return "lost"
            outcome, detail = "bpmn_error", exc.code
        except Exception as exc:  # noqa: BLE001 - any handler crash is the job's failure, reported below
            self._fail(job, exc, traceback.format_exc())
            return "failed"
        self.counts[outcome] += 1
        elapsed = (time.perf_counter() - started) * 1000
        if outcome == "completed":
            log.info("job %s %s completed in %.0f ms (instance %s)", job.id, job.topic, elapsed, job.instance_id)
        else:
            log.info("job %s %s raised BPMN error %s in %.0f ms (instance %s)", job.id, job.topic, detail, elapsed,
                     job.instance_id)
        return outcome

    def _fail(self, job, exc, details):
        self.counts["failed"] += 1
        try:
            with unit_of_work(self.session_factory) as session:
                # SpiffWorkflow wraps a diagram's error ("Error evaluating expression ..."):
                # the wrapped one says why (e.g. the script was stopped at its time limit).
                cause = exc.__cause__ or exc.__context__
                reason = f"{type(exc).__name__}: {exc}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
                row = self.queue.fail(session, job.id, self.worker_id, job.lock_token, reason, details)
                state, retries, run_after = row.state, row.retries, row.run_after
        except LockLostError as lost:
            log.warning("job %s %s failed (%s) and is no longer ours: %s", job.id, job.topic, exc, lost)
            return
        if state == "incident":
            log.error("job %s %s failed: %s: %s -> incident", job.id, job.topic, type(exc).__name__, exc)
        else:
            log.warning("job %s %s failed: %s: %s -> retry at %s (%d retries left)", job.id, job.topic,
                        type(exc).__name__, exc, run_after.isoformat(timespec="seconds"), retries)


def serve(worker, engine, until_idle=False):
    """Run ``worker`` on a connection of its own, held for its whole life.

    Holding the connection skips the pool's checkout, ping and reset per transaction
    (half the round trips of a short job). A lost connection is replaced.
    """
    while True:
        with engine.connect() as connection:
            worker.session_factory = make_session_factory(connection)
            try:
                return worker.run(until_idle)
            except DBAPIError as exc:
                if not exc.connection_invalidated or worker.stop.is_set():
                    raise
                log.warning("worker %s lost its database connection; reconnecting", worker.worker_id)
                worker.stop.wait(worker.poll_seconds)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def free_jobs_of_dead_workers(session_factory, queue, host=None):
    """Jobs locked by worker processes of this host that no longer exist (killed, crashed)
    are fetched again at once, not after their lock runs out; returns how many.

    Only this host's processes can be checked; another host's dead worker's jobs wait for
    their locks to expire as before."""
    host = host or socket.gethostname()
    with unit_of_work(session_factory) as session:
        dead = set()
        for worker_id in queue.lock_holders(session, f"{host}:"):
            pid = worker_id[len(host) + 1:].split(":", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _process_exists(int(pid)):
                dead.add(worker_id)
        freed = queue.expire_locks(session, dead)
    if freed:
        log.warning("%d job(s) locked by worker processes that are gone (%s) are fetched again now", freed,
                    ", ".join(sorted(dead)))
    return freed


def run_workers(services, handlers, concurrency=1, max_jobs=5, lock_seconds=None, poll_seconds=0.5,
                stop=None, install_signals=True, until_idle=False, queue=None):
    """Run ``concurrency`` worker threads until SIGTERM/SIGINT (or idle); returns summed counts."""
    stop = stop or threading.Event()
    tune_for_workers(services.db)
    if install_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    queue = queue or JobQueue(services.settings, runtime=services.runtime)
    try:
        free_jobs_of_dead_workers(services.session_factory, queue)
    except DBAPIError as exc:  # the database busy or away: the locks simply run out as before
        log.warning("could not look for jobs of dead workers: %s", str(exc.orig).splitlines()[0])
    workers = [Worker(services.session_factory, queue, handlers,
                      default_worker_id(f":{i}" if concurrency > 1 else ""), max_jobs, lock_seconds,
                      poll_seconds, stop) for i in range(concurrency)]
    if concurrency == 1:
        serve(workers[0], services.db, until_idle)
    else:
        threads = [threading.Thread(target=serve, args=(w, services.db, until_idle), name=w.worker_id)
                   for w in workers]
        for thread in threads:
            thread.start()
        # Wake up regularly so a signal handler gets to run in the main thread.
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(0.2)
    totals = {}
    for worker in workers:
        for key, value in worker.counts.items():
            totals[key] = totals.get(key, 0) + value
    return totals
