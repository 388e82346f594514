"""A migration run: many running instances moved onto a newer version, batch by batch.

A run lists the instances to move (in order) and how far it has got. Each batch moves the
next ``batch_size`` of them (:func:`engine.core.migration.migrate`) and advances the run in
the same transaction, with the run's row locked first: a batch is done completely or not at
all, so a run stopped half-way (a killed command, a crashed process) goes on from the first
instance not yet handled, and nothing is moved twice. Whoever runs batches (``sanshe
migrate`` in the foreground, the scheduler in the background for runs started in the admin
pages) takes turns on that lock.

A batch that fails for a reason other than a conflict (which only refuses that project) is
rolled back, counted and tried again on the next pass; after ``MAX_FAILURES`` failed passes
in a row the run stops as failed, with the reason kept on the run and in the audit log, until
an administrator resumes it (:func:`resume_run`).
"""
import logging
from dataclasses import dataclass
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from engine.core import audit, migration
from engine.core.db import Base, unit_of_work
from engine.core.deployments import get_definition, latest_definition
from engine.core.models import BigId, Definition, utcnow
from engine.errors import NotFoundError, SansheError, Text, ValidationError

log = logging.getLogger(__name__)

MAX_FAILURES = 3  # failed passes in a row before a run stops and waits for an administrator


class RunState(StrEnum):
    """A run waits for its first batch, is under way, has handled every instance, or has
    stopped after its batch failed ``MAX_FAILURES`` times (until it is resumed)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class MigrationRun(Base):
    """Instances chosen to move onto ``target_id``, and how far the moving has got."""
    __tablename__ = "migration_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    actor: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20), default=RunState.QUEUED, index=True)
    instance_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    batch_size: Mapped[int] = mapped_column(Integer, default=migration.BATCH_SIZE)
    handled: Mapped[int] = mapped_column(Integer, default=0)  # instance_ids[:handled] are done with
    moved: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    # Those that could not move: [{"instance_id", "title", "reasons": [text]}]
    refused: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # failed passes in a row
    # Why the last batch failed: {"template": English, "values": {...}} (see ``error_text``)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def failed(self) -> bool:
        return self.state == RunState.FAILED

    @property
    def error_text(self) -> Text | None:
        """Why the last batch failed, as a message an interface can translate."""
        if not self.error:
            return None
        return Text(self.error["template"], **self.error.get("values", {}))

    @property
    def total(self) -> int:
        return len(self.instance_ids)

    @property
    def finished(self) -> bool:
        return self.state == RunState.DONE


@dataclass
class BatchResult:
    """What one batch did: the run after it, and the instances it moved and refused."""
    run: MigrationRun
    moved: list[int]
    refused: list[int]


def start_run(session: Session, target_id: int, actor: str, instance_ids: Iterable[int] | None = None,
              from_definition_id: int | None = None, batch_size: int | None = None) -> MigrationRun:
    """A new run moving ``instance_ids`` (default: every running instance of an older
    version, or of ``from_definition_id``) onto ``target_id``; moves nothing yet.

    Refused (ValidationError) when none of the chosen instances runs on an older version."""
    target = get_definition(session, target_id)
    candidates = [i.id for i in migration.candidates(session, target, from_definition_id)]
    if instance_ids is not None:
        wanted = set(instance_ids)
        candidates = [i for i in candidates if i in wanted]
    if not candidates:
        raise ValidationError(Text("No running project of %(key)s is on a version older than %(version)s.",
                                   key=target.key, version=target.version))
    if batch_size is not None and batch_size < 1:
        raise ValidationError(Text("A batch holds at least one project."))
    run = MigrationRun(target_id=target.id, actor=actor, instance_ids=candidates,
                       batch_size=batch_size or migration.BATCH_SIZE, created_at=utcnow(), updated_at=utcnow())
    session.add(run)
    session.flush()
    return run


def version_of(session: Session, key: str, version: int | None) -> Definition:
    """Version ``version`` of process ``key`` (the newest when None)."""
    if version is None:
        return latest_definition(session, key)
    found = session.scalar(select(Definition).where(Definition.key == key, Definition.version == version))
    if found is None:
        raise NotFoundError(Text("Process %(key)s has no version %(version)s.", key=key, version=version))
    return found


def get_run(session: Session, run_id: int) -> MigrationRun:
    run = session.get(MigrationRun, run_id)
    if run is None:
        raise NotFoundError(Text("No such migration run."))
    return run


def unfinished_run(session: Session, target_id: int) -> MigrationRun | None:
    """The oldest run onto ``target_id`` that has not handled all its instances."""
    return session.scalar(select(MigrationRun).where(MigrationRun.target_id == target_id,
                                                     MigrationRun.state != RunState.DONE)
                          .order_by(MigrationRun.id).limit(1))


def pending_runs(session: Session) -> list[int]:
    """Ids of the runs the scheduler moves on (neither finished nor stopped), oldest first."""
    return list(session.scalars(select(MigrationRun.id)
                                .where(MigrationRun.state.not_in((RunState.DONE, RunState.FAILED)))
                                .order_by(MigrationRun.id)))


def _locked(session: Session, run_id: int) -> MigrationRun:
    run = session.scalar(select(MigrationRun).where(MigrationRun.id == run_id).with_for_update()
                         .execution_options(populate_existing=True))
    if run is None:
        raise NotFoundError(Text("No such migration run."))
    return run


def _reason(exc: BaseException) -> dict[str, Any]:
    """An exception as a message to keep: an engine error's own (translatable) message, any
    other error by its kind and text."""
    message = exc.message if isinstance(exc, SansheError) else None
    if isinstance(message, Text):
        return {"template": message.template, "values": {k: v if isinstance(v, (str, int, float)) else str(v)
                                                               for k, v in message.values.items()}}
    if message:
        return {"template": message, "values": {}}
    detail = str(exc).splitlines()[0][:500] if str(exc) else ""
    text = Text("Unexpected error %(kind)s: %(detail)s", kind=type(exc).__name__, detail=detail)
    return {"template": text.template, "values": text.values}


def record_failure(session: Session, run_id: int, exc: BaseException, now: datetime) -> MigrationRun:
    """Count a failed batch of the run (whose own transaction was rolled back), in the
    caller's transaction; the ``MAX_FAILURES``-th in a row stops the run as failed and
    writes the reason in the audit log."""
    run = _locked(session, run_id)
    run.failures += 1
    run.error = _reason(exc)
    run.updated_at = now
    if run.failures >= MAX_FAILURES and not run.finished:
        run.state = RunState.FAILED
        audit.record(session, run.actor, "migration_failed", f"migration run {run.id}",
                     {"failures": run.failures, "handled": run.handled, "total": run.total,
                      "reason": str(run.error_text)}, ts=now)
    session.flush()
    return run


def resume_run(session: Session, run_id: int, actor: str, now: datetime | None = None) -> MigrationRun:
    """Let a stopped run go on from where it stopped (audited); a run not stopped is refused."""
    run = _locked(session, run_id)
    if not run.failed:
        raise ValidationError(Text("Migration run %(id)s has not stopped; there is nothing to resume.", id=run.id))
    run.state = RunState.RUNNING if run.batches else RunState.QUEUED
    run.failures, run.error = 0, None
    run.updated_at = now or utcnow()
    audit.record(session, actor, "migration_resumed", f"migration run {run.id}",
                 {"handled": run.handled, "total": run.total}, ts=run.updated_at)
    session.flush()
    return run


def run_batch(session: Session, runtime: migration.Mover, run_id: int) -> BatchResult:
    """Move the run's next batch and advance the run, in the caller's transaction.

    The run's row is locked first and read afresh, so two callers never handle the same
    batch. An instance that meanwhile ended or was moved by someone else is skipped."""
    run = _locked(session, run_id)
    if run.finished or run.failed:
        return BatchResult(run, [], [])
    batch = list(run.instance_ids[run.handled:run.handled + run.batch_size])
    target = get_definition(session, run.target_id)
    still = {i.id for i in migration.candidates(session, target)} & set(batch)
    checks = migration.migrate(session, runtime, run.target_id, run.actor, instance_ids=still) if still else []
    moved = [c.instance_id for c in checks if c.moved]
    refused = [c for c in checks if not c.moved]
    run.refused = [*run.refused, *({"instance_id": c.instance_id, "title": c.title,
                                    "reasons": [str(r) for r in c.reasons]} for c in refused)]
    run.handled += len(batch)
    run.moved += len(moved)
    run.batches += 1
    run.failures, run.error = 0, None
    run.updated_at = runtime.clock()
    run.state = RunState.DONE if run.handled >= run.total else RunState.RUNNING
    if run.finished:
        run.finished_at = run.updated_at
    session.flush()
    return BatchResult(run, moved, [c.instance_id for c in refused])


def run_pending(runtime: migration.Mover, session_factory: sessionmaker[Session], batches: int = 1) -> int:
    """Up to ``batches`` batches of each unfinished run, each batch its own transaction
    (the scheduler's pass runs one, so that timers never wait long); returns how many ran.

    A batch that fails is rolled back and counted on its run (:func:`record_failure`), and
    the other runs go on."""
    with unit_of_work(session_factory, readonly=True) as session:
        runs = pending_runs(session)
    done = 0
    for run_id in runs:
        for _ in range(batches):
            try:
                with unit_of_work(session_factory) as session:
                    result = run_batch(session, runtime, run_id)
            except Exception as exc:  # noqa: BLE001 - kept on the run and shown on its page
                log.warning("migration run %s: batch failed: %s", run_id, exc)
                with unit_of_work(session_factory) as session:
                    record_failure(session, run_id, exc, runtime.clock())
                break
            done += 1
            if result.run.finished:
                break
    return done
