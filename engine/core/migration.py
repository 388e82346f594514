"""Moving running instances onto a newer version of their process, in bulk.

A dry run says, per instance, whether it can move and why not; a run moves those that
can and records each move in the audit log. An instance cannot move when

- it is, or has been, at an element the new version removed (its history would point at
  nothing);
- a subprocess it is running no longer exists;
- a worker job is open at a service task the new version changed (the job was made from
  the old parameters: let it finish first);
- SpiffWorkflow cannot place it on the new version (tried on a copy, through a save and a
  load, exactly as the run would do it).
"""
from dataclasses import dataclass, field
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import audit, paths
from engine.core.deployments import get_definition
from engine.errors import ConflictError, Text, ValidationError
from engine.core.models import Definition, Instance, Job, Task
from engine.core.states import JobState

# Instances moved per transaction by a batch run.
BATCH_SIZE = 20


class _TaskRef(Protocol):
    """One task the move touches, in plain names (``spiff.TaskRef``)."""

    @property
    def bpmn_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...  # SpiffWorkflow's state name, e.g. "READY"
    @property
    def kind(self) -> str: ...  # "service", "human" or "other"


class _Diff(Protocol):
    """What moving an instance touches (``spiff.MigrationDiff``), as far as it is read here."""

    @property
    def removed(self) -> Sequence[_TaskRef]: ...
    @property
    def changed_open(self) -> Sequence[tuple[_TaskRef, Sequence[str]]]: ...
    @property
    def missing_subprocesses(self) -> Sequence[str]: ...


class Mover(Protocol):
    """What a migration needs of the runtime: comparing an instance with a version, moving
    it (or trying to, with ``dry_run``; both raise ConflictError when it cannot move), and
    its clock."""

    def clock(self) -> datetime: ...

    def migration_diff(self, session: Session, instance_id: int, definition_id: int) -> _Diff: ...

    def migrate_instance(self, session: Session, instance_id: int, definition_id: int, actor: str | None,
                         dry_run: bool = False) -> object: ...


@dataclass
class MigrationCheck:
    """One instance's answer: ``can_move``, and ``reasons`` when it cannot."""
    instance_id: int
    title: str
    from_version: int
    to_version: int
    waiting_at: list[str] = field(default_factory=list[str])
    reasons: list[str] = field(default_factory=list[str])  # Text where the engine words it
    notes: list[str] = field(default_factory=list[str])
    moved: bool = False
    preview: paths.Preview = field(default_factory=paths.Preview)

    @property
    def can_move(self) -> bool:
        return not self.reasons


def candidates(session: Session, target: Definition, from_definition_id: int | None = None) -> list[Instance]:
    """Running instances of the target's process on an older version (or on one version)."""
    query = (select(Instance).join(Definition, Definition.id == Instance.definition_id)
             .where(Instance.status == "running", Definition.key == target.key, Definition.version < target.version)
             .order_by(Instance.id))
    if from_definition_id is not None:
        query = query.where(Instance.definition_id == from_definition_id)
    return list(session.scalars(query))


def check_instance(session: Session, runtime: Mover, instance: Instance, target: Definition,
                   try_on_copy: bool = True) -> MigrationCheck:
    """Whether ``instance`` can move onto ``target``; writes nothing.

    With ``try_on_copy`` the move itself is also tried on a copy (a caller about to move it
    for real learns the same from the real move).
    """
    current = session.get_one(Definition, instance.definition_id)
    check = MigrationCheck(instance.id, instance.title, current.version, target.version,
                           waiting_at=_waiting_at(session, instance.id))
    if instance.status != "running":
        check.reasons.append(Text("the project is %(status)s", status=instance.status))
        return check
    if current.key != target.key or current.version >= target.version:
        check.reasons.append(Text("it is on version %(current)s; version %(target)s is not newer",
                                  current=current.version, target=target.version))
        return check
    check.preview = paths.preview(current.bpmn_xml, target.bpmn_xml, current.forms or {}, target.forms or {},
                                  _positions(session, instance.id))
    diff = runtime.migration_diff(session, instance.id, target.id)
    for name in diff.missing_subprocesses:
        check.reasons.append(Text("it is inside the subprocess %(name)s, which version %(target)s does not have",
                                  name=name, target=target.version))
    for ref in diff.removed:
        if ref.state in ("COMPLETED", "CANCELLED", "ERROR"):
            check.reasons.append(Text("it has been at %(name)s (%(id)s), which version %(target)s removed",
                                      name=ref.name, id=ref.bpmn_id, target=target.version))
        else:
            check.reasons.append(Text("it is waiting at %(name)s (%(id)s), which version %(target)s removed",
                                      name=ref.name, id=ref.bpmn_id, target=target.version))
    for ref, attributes in diff.changed_open:
        what = ", ".join(attributes) or "its definition"
        if ref.kind == "service" and ref.state == "STARTED":
            check.reasons.append(Text("a worker job is open at %(name)s (%(id)s), whose %(what)s changed in "
                                      "version %(target)s; move it after the job is done", name=ref.name,
                                      id=ref.bpmn_id, what=what, target=target.version))
        else:
            check.notes.append(Text("%(name)s (%(id)s, %(state)s): %(what)s changed; it continues by version "
                                    "%(target)s", name=ref.name, id=ref.bpmn_id, state=ref.state.lower(), what=what,
                                    target=target.version))
    if check.can_move and try_on_copy:
        try:
            runtime.migrate_instance(session, instance.id, target.id, actor="", dry_run=True)
        except ConflictError as exc:
            check.reasons.append(str(exc))
    return check


def dry_run(session: Session, runtime: Mover, target_id: int,
            from_definition_id: int | None = None) -> list[MigrationCheck]:
    """A ``MigrationCheck`` for every candidate instance; changes nothing."""
    target = get_definition(session, target_id)
    return [check_instance(session, runtime, instance, target)
            for instance in candidates(session, target, from_definition_id)]


def migrate(session: Session, runtime: Mover, target_id: int, actor: str, from_definition_id: int | None = None,
            instance_ids: Iterable[int] | None = None) -> list[MigrationCheck]:
    """Move every candidate that can move onto ``target_id``; each move is audited.

    ``instance_ids`` limits the run to those instances. Instances that cannot move are
    left as they are and reported. Returns the ``MigrationCheck`` list (``moved`` set).
    """
    target = get_definition(session, target_id)
    wanted = set(instance_ids) if instance_ids is not None else None
    checks: list[MigrationCheck] = []
    for instance in candidates(session, target, from_definition_id):
        if wanted is not None and instance.id not in wanted:
            continue
        check = check_instance(session, runtime, instance, target, try_on_copy=False)
        checks.append(check)
        if not check.can_move:
            continue
        try:  # refused before anything is written
            runtime.migrate_instance(session, instance.id, target.id, actor)
        except ConflictError as exc:
            check.reasons.append(str(exc))
            continue
        check.moved = True
        audit.record(session, actor, "migrate", f"instance {instance.id}",
                     {"process": target.key, "title": instance.title, "from_version": check.from_version,
                      "to_version": target.version, "notes": check.notes}, ts=runtime.clock())
    if wanted is not None and not checks:
        raise ValidationError("None of the chosen projects runs on an older version of this process.")
    session.flush()
    return checks


def migrate_batch(session: Session, runtime: Mover, target_id: int, actor: str, instance_ids: Iterable[int],
                  batch_size: int | None = None) -> tuple[list[MigrationCheck], list[int]]:
    """Move the first ``batch_size`` (default ``BATCH_SIZE``) of ``instance_ids`` (as :func:`migrate`); returns
    ``(checks, remaining ids)``.

    Each batch is its own unit of work: a run of many instances is a sequence of calls, each
    committed, so it shows progress and, when stopped, goes on from the ids still remaining
    (an instance already moved is on the target version and is no longer a candidate).
    """
    ids, batch_size = list(instance_ids), batch_size or BATCH_SIZE
    return migrate(session, runtime, target_id, actor, instance_ids=ids[:batch_size]), ids[batch_size:]


def _positions(session: Session, instance_id: int) -> set[str]:
    """Element ids where the instance is: its open tasks and its open worker jobs."""
    tasks = session.scalars(select(Task.bpmn_id).where(Task.instance_id == instance_id, Task.state == "ready"))
    jobs = session.scalars(select(Job.bpmn_id).where(Job.instance_id == instance_id,
                                                     Job.state.not_in((JobState.COMPLETED, JobState.CANCELLED))))
    return set(tasks) | set(jobs)


def _waiting_at(session: Session, instance_id: int) -> list[str]:
    return list(session.scalars(select(Task.name).where(Task.instance_id == instance_id, Task.state == "ready")
                                .order_by(Task.created_at)))
