"""The job queue: service tasks handed to workers (the external-task pattern).

A job is ``ready`` until a worker fetches and locks it (``locked``, with a worker id, a lock
token and an expiry). The worker then completes it (the instance moves on in the same
transaction), reports a failure (retried with exponential backoff; when no retries are left
the job becomes an ``incident`` that no worker fetches until someone retries it), or reports
a BPMN error (routed to the error boundary event of the diagram), or parks it as
``waiting`` for something outside the process (a budget): a waiting job uses no retry and is
no incident; whatever provides what it waits for puts it back in the queue
(``resume_waiting``), in the same transaction.

A lock that expired (the worker died) makes the job fetchable again under a new token; any
late call with the old worker id or token is refused with ``ConflictError`` and changes
nothing. Every call that acts on a locked job first locks its row, so while a worker runs a
handler and completes in one transaction (``execute``), no one else can take the job.

Lock expiry and backoff follow the queue's ``clock`` (wall time); event timestamps follow
the runtime's clock, which a demo may run on simulated time.
"""
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from collections.abc import Callable, Iterable
from typing import Any, Protocol, cast

from sqlalchemy.orm import Session
from sqlalchemy import ColumnElement, CursorResult, and_, exists, func, insert, or_, select, update
from sqlalchemy.sql.dml import ReturningUpdate

from engine.core.db import table_of
from engine.core import audit
from engine.errors import ConflictError, NotFoundError, Text, ValidationError
from engine.core.eventlog import EventBatch
from engine.core.hooks import Hooks
from engine.core.states import JobState
from engine.core.models import Definition, Instance, Job, utcnow

JOBS = table_of(Job)


class JobRunner(Protocol):
    """What the queue needs of the runtime: its clock and hooks, and moving a job's
    instance on when the job completes or reports a business error."""

    hooks: Hooks

    def clock(self) -> datetime: ...

    def complete_job(self, session: Session, job: Job, result: dict[str, Any] | None, resource: str) -> Any: ...

    def job_result_problem(self, session: Session, job: Job, result: dict[str, Any]) -> str | None: ...

    def job_bpmn_error(self, session: Session, job: Job, code: str, message: str, variables: dict[str, Any] | None,
                       resource: str) -> bool: ...


class LockLostError(ConflictError):
    """This job is no longer locked by you (your lock expired and someone else took it, or it
    was completed or cancelled)."""
_RETURNED = (JOBS.c.id, JOBS.c.instance_id, JOBS.c.task_id, JOBS.c.bpmn_id, JOBS.c.name, JOBS.c.topic,
             JOBS.c.step, JOBS.c.variables, JOBS.c.attempts, JOBS.c.retries, JOBS.c.priority)


@dataclass(frozen=True)
class LockedJob:
    """What a worker receives for one fetched job."""
    id: int
    instance_id: int
    task_id: str
    bpmn_id: str
    name: str
    topic: str
    step: int | None
    variables: dict[str, Any]
    attempts: int
    retries: int
    priority: int
    worker_id: str
    lock_token: str
    lock_expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "instance_id": self.instance_id, "task_id": self.task_id,
                "activity_id": self.bpmn_id, "activity_name": self.name, "topic": self.topic,
                "step": self.step, "variables": self.variables, "attempts": self.attempts,
                "retries": self.retries, "priority": self.priority, "worker_id": self.worker_id,
                "lock_token": self.lock_token, "lock_expires_at": self.lock_expires_at.isoformat() + "Z"}


@dataclass
class JobContext:
    """What a handler sees: the job's task data and a session inside the job's transaction."""
    session: Session
    job: Job
    worker_id: str
    now: datetime
    settings: Any = None
    variables: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.variables = dict(self.job.variables or {})

    @property
    def job_id(self) -> int:
        return self.job.id

    @property
    def instance_id(self) -> int:
        return self.job.instance_id

    @property
    def params(self) -> dict[str, Any]:
        return self.variables.get("params") or {}

    @property
    def project(self) -> dict[str, Any]:
        return self.variables.get("project") or {}


def _lock_row(session: Session, job_id: int) -> Job:
    """The job row, locked for this transaction and read afresh (NotFoundError if none)."""
    job = session.scalar(select(Job).where(Job.id == job_id).with_for_update()
                         .execution_options(populate_existing=True))
    if job is None:
        raise NotFoundError(Text("No job %(id)s.", id=job_id))
    return job


def list_jobs(session: Session, state: str | None = None, limit: int = 500) -> list[Job]:
    """Jobs in ``state`` (all states for None), oldest first."""
    query = select(Job).order_by(Job.id).limit(limit)
    if state is not None:
        query = query.where(Job.state == state)
    return list(session.scalars(query))


def _available(topics: Iterable[str], now: datetime) -> ColumnElement[bool]:
    """Jobs a worker may take: ready and due, or locked by someone whose lock has expired."""
    return and_(
        JOBS.c.topic.in_(list(topics)),
        or_(and_(JOBS.c.state == "ready", JOBS.c.run_after <= now),
            and_(JOBS.c.state == "locked", JOBS.c.lock_expires_at < now)),
    )


def _claim_statement(dialect: str, topics: Iterable[str], max_jobs: int, now: datetime,
                     values: dict[str, Any]) -> ReturningUpdate[*tuple[Any, ...]]:
    """One statement that picks and locks up to ``max_jobs`` jobs and returns them.

    PostgreSQL: ``WITH candidate AS (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ... FROM
    candidate RETURNING ...`` - racing workers skip each other's rows instead of waiting.
    SQLite: the same pick as a sub-select; the write transaction (BEGIN IMMEDIATE) already
    serializes writers.
    """
    pick = (select(JOBS.c.id).where(_available(topics, now))
            .order_by(JOBS.c.priority.desc(), JOBS.c.id).limit(max_jobs))
    if dialect == "postgresql":
        candidate = pick.with_for_update(skip_locked=True).cte("candidate")
        where = JOBS.c.id == candidate.c.id
    else:
        where = JOBS.c.id.in_(pick.scalar_subquery())
    return update(JOBS).where(where).values(**values, attempts=JOBS.c.attempts + 1).returning(*_RETURNED)


class JobQueue:
    """Fetch, lock, complete, fail and retry jobs; ``runtime`` moves instances on (the
    :class:`~engine.core.runtime.Runtime`, or for jobs of no instance
    :class:`engine.core.testing.QueueOnlyRuntime`)."""

    def __init__(self, settings: Any, runtime: JobRunner, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.runtime = runtime
        self.clock = clock

    def event_time(self) -> datetime:
        """Now on the runtime's clock (event times)."""
        return self.runtime.clock()

    # -- fetching --------------------------------------------------------------------------
    def has_available(self, session: Session, topics: list[str]) -> bool:
        """Whether a job of ``topics`` could be fetched now: a read, no lock taken (long
        polls ask this while they wait, so that waiting workers never hold the write lock)."""
        topics = [t for t in topics or () if t]
        if not topics:
            return False
        return bool(session.scalar(select(exists().where(_available(topics, self.clock())))))

    def fetch_and_lock(self, session: Session, topics: Iterable[str], worker_id: str, max_jobs: int = 1,
                       lock_seconds: float | None = None) -> list[LockedJob]:
        """Lock up to ``max_jobs`` available jobs of ``topics`` for ``worker_id``; oldest first
        within the highest priority. Returns a list of ``LockedJob``."""
        topics = [t for t in topics or () if t]
        if not topics or max_jobs < 1:
            return []
        if not worker_id:
            raise ValidationError("A worker id is required.", errors={"worker_id": ["required"]})
        now = self.clock()
        token = str(uuid.uuid4())
        expires = now + timedelta(seconds=lock_seconds or self.settings.job_lock_seconds)
        statement = _claim_statement(session.get_bind().dialect.name, topics, max_jobs, now, {
            "state": "locked", "worker_id": worker_id, "lock_token": token, "lock_expires_at": expires})
        rows = sorted(session.execute(statement).mappings(), key=lambda r: (-r["priority"], r["id"]))
        locked = [LockedJob(**row, worker_id=worker_id, lock_token=token, lock_expires_at=expires)
                  for row in rows]
        first = [job for job in locked if job.attempts == 1]
        if first:
            self._record_start(session, first, worker_id)
        return locked

    def _record_start(self, session: Session, jobs: list[LockedJob], worker_id: str) -> None:
        """The event log's ``start`` of a service task: when a worker first took it."""
        rows = session.execute(
            select(Instance.id, Instance.town_id, Instance.community_id, Instance.organization_id,
                   Definition.id.label("definition_id"), Definition.key, Definition.version)
            .join(Definition, Definition.id == Instance.definition_id)
            .where(Instance.id.in_({job.instance_id for job in jobs})))
        now = self.event_time()
        batches: dict[int, EventBatch] = {}
        listeners = self.runtime.hooks.events_written
        for row in rows:
            definition = SimpleNamespace(id=row.definition_id, key=row.key, version=row.version)
            batches[row.id] = EventBatch(row, definition, now, listeners)
        for job in jobs:
            if job.instance_id not in batches:  # a job queued without a process instance
                instance = SimpleNamespace(id=job.instance_id, town_id=None, community_id=None, organization_id=None)
                batches[job.instance_id] = EventBatch(instance, SimpleNamespace(id=None, key="", version=None), now,
                                                      listeners)
            batches[job.instance_id].job("start", job, worker_id)
        for batch in batches.values():
            batch.flush(session)

    # -- acting on a locked job ------------------------------------------------------------
    def owned(self, session: Session, job_id: int, worker_id: str, lock_token: str) -> Job:
        """The job row, locked for this transaction, if ``worker_id`` still holds its lock."""
        job = _lock_row(session, job_id)
        if job.state != "locked":
            raise LockLostError(f"Job {job_id} is {job.state}, not locked by you.")
        if job.worker_id != worker_id or job.lock_token != lock_token:
            raise LockLostError(f"Job {job_id} is locked by another worker now (your lock expired).")
        return job

    def extend_lock(self, session: Session, job_id: int, worker_id: str, lock_token: str,
                    lock_seconds: float | None = None) -> datetime:
        job = self.owned(session, job_id, worker_id, lock_token)
        expires = self.clock() + timedelta(seconds=lock_seconds or self.settings.job_lock_seconds)
        job.lock_expires_at = expires
        return expires

    def complete(self, session: Session, job_id: int, worker_id: str, lock_token: str,
                 result: dict[str, Any] | None = None) -> Job:
        """Complete the job with ``result``; the instance moves on in this transaction."""
        job = self.owned(session, job_id, worker_id, lock_token)
        self._complete(session, job, result or {}, worker_id)
        return job

    def _complete(self, session: Session, job: Job, result: dict[str, Any], worker_id: str) -> None:
        if not isinstance(result, dict):  # pyright: ignore[reportUnnecessaryIsInstance] (a handler's or caller's value)
            raise ValidationError("A job result must be an object.", errors={"result": ["must be an object"]})
        problem = self.runtime.job_result_problem(session, job, result)
        if problem is not None:
            # A result no recorded fact backs must not move the project on: an incident
            # for an administrator, the instance stays where it is.
            job.state, job.retries = JobState.INCIDENT, 0
            job.error_message = f"result refused: {problem}"
            job.worker_id = job.lock_token = job.lock_expires_at = None
            return
        self.runtime.complete_job(session, job, result, worker_id)  # writes the job row too

    def bpmn_error(self, session: Session, job_id: int, worker_id: str, lock_token: str, code: str, message: str = "",
                   variables: dict[str, Any] | None = None) -> Job:
        """Route the job's task to the diagram's error boundary event for ``code``."""
        job = self.owned(session, job_id, worker_id, lock_token)
        self._bpmn_error(session, job, code, message, variables, worker_id)
        return job

    def _bpmn_error(self, session: Session, job: Job, code: str, message: str, variables: dict[str, Any] | None,
                    worker_id: str) -> None:
        if not code:
            raise ValidationError("A BPMN error needs a code.", errors={"code": ["required"]})
        if not self.runtime.job_bpmn_error(session, job, code, message, variables or {}, worker_id):
            # The diagram has no boundary event for this code: a person has to look.
            job.state, job.retries = JobState.INCIDENT, 0
            job.error_message = f"BPMN error {code!r} is not caught by the diagram: {message}"
            job.worker_id = job.lock_token = job.lock_expires_at = None
        # caught: the runtime wrote the job row with the instance's step

    def fail(self, session: Session, job_id: int, worker_id: str, lock_token: str, message: str, details: str = "",
             retries: int | None = None, retry_seconds: float | None = None) -> Job:
        """Report a failure. With retries left the job is ready again after a backoff of
        ``job_backoff_seconds ** attempts`` (or ``retry_seconds``); at zero it is an incident."""
        job = self.owned(session, job_id, worker_id, lock_token)
        left = job.retries - 1 if retries is None else max(0, int(retries))
        job.retries = max(0, left)
        job.error_message = (message or "failed")[:2000]
        job.error_details = details or None
        job.worker_id = job.lock_token = job.lock_expires_at = None
        if left > 0:
            backoff = self.settings.job_backoff_seconds ** job.attempts if retry_seconds is None else retry_seconds
            job.state = "ready"
            job.run_after = self.clock() + timedelta(seconds=backoff)
        else:
            job.state = "incident"
        return job

    def park(self, session: Session, job_id: int, worker_id: str, lock_token: str, waiting_for: str,
             message: str) -> Job:
        """Set the locked job aside as ``waiting`` for ``waiting_for`` (no retry is used).

        The attempt does not count: the job runs again as if for the first time once
        ``resume_waiting`` is called with the same key.
        """
        if not waiting_for:
            raise ValidationError("A waiting job needs what it waits for.", errors={"waiting_for": ["required"]})
        job = self.owned(session, job_id, worker_id, lock_token)
        job.state, job.waiting_for = "waiting", waiting_for[:100]
        job.error_message = (message or waiting_for)[:2000]
        job.error_details = None
        job.attempts = max(0, job.attempts - 1)
        job.worker_id = job.lock_token = job.lock_expires_at = None
        return job

    def reroute_waiting(self, session: Session, job_id: int, code: str, message: str, actor: str) -> Job:
        """Give up waiting: route the waiting job's task to the diagram's error path ``code``.

        Raises ConflictError when the job is not waiting or the diagram has no such path.
        """
        job = _lock_row(session, job_id)
        if job.state != "waiting":
            raise ConflictError(Text("Job %(id)s is %(state)s, not waiting.", id=job_id, state=job.state))
        job.waiting_for = None
        if not self.runtime.job_bpmn_error(session, job, code, message, {}, actor):
            raise ConflictError("The diagram has no other way on from this step.")
        return job

    def release(self, session: Session, job_ids: Iterable[int], worker_id: str, lock_token: str) -> int:
        """Give locked jobs back unprocessed (a worker shutting down); returns how many."""
        if not job_ids:
            return 0
        result = cast(CursorResult[Any], session.execute(
            update(JOBS).where(JOBS.c.id.in_(list(job_ids)), JOBS.c.state == "locked",
                               JOBS.c.worker_id == worker_id, JOBS.c.lock_token == lock_token)
            .values(state="ready", worker_id=None, lock_token=None, lock_expires_at=None)))
        return result.rowcount

    def lock_holders(self, session: Session, prefix: str) -> set[str]:
        """The worker ids starting with ``prefix`` (e.g. ``host:``) that hold job locks now."""
        now = self.clock()
        return set(session.scalars(select(JOBS.c.worker_id).distinct().where(
            JOBS.c.state == "locked", JOBS.c.lock_expires_at >= now,
            JOBS.c.worker_id.startswith(prefix, autoescape=True))))

    def expire_locks(self, session: Session, worker_ids: Iterable[str]) -> int:
        """End the locks of workers known to be gone (their process no longer exists), so
        their jobs are fetched again now instead of when the locks run out. Their lock tokens
        stay: a worker that was not gone after all can no longer complete the job (its
        completion is refused as lost), so a job still runs to its end once. Returns how many."""
        if not worker_ids:
            return 0
        now = self.clock()
        result = session.execute(
            update(JOBS).where(JOBS.c.state == "locked", JOBS.c.worker_id.in_(list(worker_ids)),
                               JOBS.c.lock_expires_at >= now)
            .values(lock_expires_at=now - timedelta(microseconds=1)))
        return cast(CursorResult[Any], result).rowcount

    def execute(self, session: Session, job_id: int, worker_id: str, lock_token: str,
                handler: Callable[[JobContext], dict[str, Any] | None]) -> dict[str, Any]:
        """Run ``handler(JobContext)`` and complete the job, in the caller's transaction.

        The handler's effects and the completion commit together or not at all: a worker
        that dies half-way leaves the job as it was (locked, then fetchable again when the
        lock expires). Any exception from the handler propagates and the caller rolls back:
        a ``BusinessRuleError`` is then reported with ``bpmn_error`` (its ``code``), anything
        else with ``fail``, each in a new transaction (``workers.worker.Worker.process``).
        No savepoint is needed, which saves two round trips per job. Returns the result.
        """
        job = self.owned(session, job_id, worker_id, lock_token)
        context = JobContext(session=session, job=job, worker_id=worker_id, now=self.event_time(),
                             settings=self.settings)
        result = handler(context) or {}
        self._complete(session, job, result, worker_id)
        return result

    def waiting(self, session: Session, prefix: str = "") -> list[Job]:
        """Jobs waiting for something whose key starts with ``prefix``, oldest first."""
        return list(session.scalars(select(Job).where(Job.state == "waiting", Job.waiting_for.startswith(prefix, autoescape=True))
                                    .order_by(Job.id)))

    # -- incidents -------------------------------------------------------------------------
    def incidents(self, session: Session, limit: int = 200) -> list[Job]:
        return list_jobs(session, "incident", limit)

    def retry_incident(self, session: Session, job_id: int, retries: int | None = None, actor: str = "admin") -> Job:
        """Put an incident back in the queue with ``retries`` (default: the configured count)."""
        job = _lock_row(session, job_id)
        if job.state != "incident":
            raise ConflictError(Text("Job %(id)s is %(state)s, not an incident.", id=job_id, state=job.state))
        job.state = "ready"
        job.retries = retries if retries and retries > 0 else self.settings.job_retries
        job.run_after = self.clock()
        audit.record(session, actor, "incident_retry", f"job:{job.id}",
                     {"topic": job.topic, "error": job.error_message, "retries": job.retries}, ts=self.clock())
        return job

    def counts(self, session: Session) -> dict[tuple[str, str], int]:
        """How many jobs are in each state, per topic: {(topic, state): n}."""
        rows = session.execute(select(Job.topic, Job.state, func.count()).group_by(Job.topic, Job.state))
        return {(topic, state): n for topic, state, n in rows}


def resume_waiting(session: Session, waiting_for: str, now: datetime) -> int:
    """Put the jobs waiting for ``waiting_for`` back in the queue, due now; returns how many.

    Called by whatever provides what they wait for, in its own transaction, so the jobs run
    exactly when the change they need is committed.
    """
    return cast(CursorResult[Any], session.execute(
        update(JOBS).where(JOBS.c.state == "waiting", JOBS.c.waiting_for == waiting_for)
        .values(state="ready", waiting_for=None, run_after=now, error_message=None))).rowcount


def add_ready_jobs(session: Session, instance_id: int, topic: str, count: int, now: datetime | None = None) -> None:
    """``count`` ready jobs of ``topic`` on one instance, in one multi-row INSERT.

    For queue benchmarks and tests (``workers/race.py``); the jobs of real service tasks are
    created by the runtime when their task starts.
    """
    now = now or utcnow()
    session.execute(insert(Job), [{"instance_id": instance_id, "task_id": str(uuid.uuid4()), "bpmn_id": "noop",
                                   "name": "noop", "topic": topic, "variables": {}, "state": JobState.READY,
                                   "retries": 3, "attempts": 0, "priority": 0, "run_after": now,
                                   "created_at": now} for _ in range(count)])


def state_totals(session: Session) -> dict[str, int]:
    """How many jobs are in each state (all topics)."""
    rows = session.execute(select(Job.state, func.count()).group_by(Job.state))
    return {state: count for state, count in rows}
