"""The statements an engine step writes with, built once.

Every task a person completes and every job a worker finishes is one engine step. The
ORM's unit of work (change tracking, flush ordering, one statement per object) cost more
there than SpiffWorkflow's own step, so the step writes its rows with these prebuilt Core
statements instead: typed bind parameters, compiled once per dialect (SQLAlchemy's
compiled cache), executed on the session's connection inside the session's transaction. ORM objects the step changed are
then told the written values (:func:`written`), so the session never writes them again;
rows only read are read as plain :class:`Record` objects.
"""
from types import SimpleNamespace
from typing import Any
from collections.abc import Sequence

from sqlalchemy import CursorResult, DateTime, Executable, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm import attributes
from sqlalchemy.orm.util import identity_key

from engine.core.db import table_of
from engine.core.states import JobState, TaskState
from engine.errors import ConflictError
from engine.core.models import Event, Instance, Job, Notification, StatePart, Task, Timer

_I, _T, _J = table_of(Instance), table_of(Task), table_of(Job)
_STATE_PARTS = table_of(StatePart)

INSERT_TASKS = insert(_T)
INSERT_JOBS = insert(_J)
INSERT_TIMERS = insert(table_of(Timer))
INSERT_EVENTS = insert(table_of(Event))
INSERT_STATE_PART = insert(_STATE_PARTS)
STATE_PARTS = (select(_STATE_PARTS.c.body).where(_STATE_PARTS.c.instance_id == bindparam("p_id"))
               .order_by(_STATE_PARTS.c.id))
DELETE_STATE_PARTS = delete(_STATE_PARTS).where(_STATE_PARTS.c.instance_id == bindparam("p_id"))
INSERT_NOTIFICATIONS = insert(table_of(Notification)).execution_options(preserve_rowcount=True)

# Only a task still waiting can be completed: a second completion changes no row.
COMPLETE_TASK = (update(_T).where(_T.c.id == bindparam("p_id"), _T.c.state == TaskState.READY)
                 .values(state=TaskState.COMPLETED, completed_at=bindparam("p_now"), completed_by=bindparam("p_user"),
                         data=bindparam("p_data", type_=_T.c.data.type), draft=None))

COMPLETE_JOB = (update(_J).where(_J.c.id == bindparam("p_id"), _J.c.state != JobState.COMPLETED,
                                 _J.c.state != JobState.CANCELLED)
                .values(state=JobState.COMPLETED, completed_at=bindparam("p_now"),
                        result=bindparam("p_result", type_=_J.c.result.type),
                        error_message=bindparam("p_error"), lock_expires_at=None))

# The instance row: its state and summary, guarded by the optimistic lock. The definition
# is set only by a migration: naming an indexed column in the SET clause makes SQLite
# rewrite its index entry even when the value is unchanged.
SAVE_INSTANCE = (update(_I).where(_I.c.id == bindparam("p_id"), _I.c.lock_version == bindparam("p_version"))
                 .values(state=bindparam("p_state"), lock_version=bindparam("p_next"),
                         current_step=bindparam("p_step"), status=bindparam("p_status"),
                         ended_at=bindparam("p_ended", type_=DateTime()), outcome=bindparam("p_outcome")))
SAVE_MIGRATED_INSTANCE = SAVE_INSTANCE.values(definition_id=bindparam("p_definition"))
SAVED_FIELDS = {"state": "p_state", "lock_version": "p_next", "current_step": "p_step", "status": "p_status",
                "ended_at": "p_ended", "outcome": "p_outcome"}


# The rows a step reads, without the columns it does not need (state, submitted data).
LOAD_TASK = select(*[c for c in _T.c if c.name not in ("data", "draft")]).where(_T.c.id == bindparam("p_id"))
LOAD_INSTANCE = select(*[c for c in _I.c if c.name != "state"]).where(_I.c.id == bindparam("p_id"))
# A step on an instance holds its row until it commits: steps on one instance run one after
# the other, each on what the one before wrote, instead of failing on the optimistic lock
# (PostgreSQL; SQLite's write transactions are serial already and ignore FOR UPDATE).
LOAD_INSTANCE_FOR_STEP = LOAD_INSTANCE.with_for_update()

INSTANCE_STATE = select(_I.c.state).where(_I.c.id == bindparam("p_id"))


class Record(SimpleNamespace):
    """A row's values read by a step (a plain object, not tracked by the session)."""


def load(session: Session, statement: Executable, key: Any) -> Record | None:
    """The row as a :class:`Record`, or None."""
    row = execute(session, statement, {"p_id": key}).mappings().first()
    return None if row is None else Record(**row)


def execute(session: Session, statement: Executable,
            params: dict[str, Any] | list[dict[str, Any]] | None = None) -> CursorResult[Any]:
    """Run a prebuilt statement on the session's connection (inside its transaction).

    A list of parameter sets runs as one executemany (INSERTs as multi-row inserts). The
    statements are built once at import, so SQLAlchemy's compiled cache compiles each once
    per dialect. Returns the result (``rowcount`` for writes).
    """
    return session.connection().execute(statement, params)


def committed(obj: Any, values: dict[str, Any]) -> None:
    """Tell the ORM object that ``values`` are what its row now holds (nothing left to write)."""
    for name, value in values.items():
        attributes.set_committed_value(obj, name, value)


def written(session: Session, model: type[Any], obj: Any, values: dict[str, Any]) -> None:
    """``values`` were written to ``obj``'s row: update ``obj`` (an ORM object or a Record) and
    any ORM copy of the row the session holds, so later reads in the transaction agree."""
    if isinstance(obj, Record):
        obj.__dict__.update(values)
        tracked = session.identity_map.get(identity_key(model, obj.id))
        if tracked is not None:
            committed(tracked, values)
    else:
        committed(obj, values)


def stored_state(session: Session, instance: Any) -> tuple[str | None, Sequence[str]]:
    """``(state, parts)`` as stored for the instance (ORM object or Record)."""
    state = execute(session, INSTANCE_STATE, {"p_id": instance.id}).scalar_one() if isinstance(instance, Record) \
        else instance.state
    return state, execute(session, STATE_PARTS, {"p_id": instance.id}).scalars().all()


def save_state_part(session: Session, instance_id: int, saved: Any) -> None:
    """Store a save's finished tasks (``saved`` from ``StateStore.save``)."""
    if saved.rewrite:
        execute(session, DELETE_STATE_PARTS, {"p_id": instance_id})
    if saved.part:
        execute(session, INSERT_STATE_PART, [{"instance_id": instance_id, "body": saved.part}])


def save_instance(session: Session, instance: Any, state: str, **changes: Any) -> int:
    """Write the instance's state and summary; ConflictError if another step got there first.

    ``instance`` is the ORM object; changes it carries that the ORM has not written yet are
    written first, by the ORM, with its own version check.
    """
    if not isinstance(instance, Record) and attributes.instance_state(instance).modified:
        session.flush()
    version = instance.lock_version
    values: dict[str, Any] = {"state": state, "lock_version": version + 1, "current_step": instance.current_step,
              "status": instance.status, "ended_at": instance.ended_at, "outcome": instance.outcome, **changes}
    params = {param: values[name] for name, param in SAVED_FIELDS.items()}
    params.update(p_id=instance.id, p_version=version)
    statement = SAVE_INSTANCE
    if values.get("definition_id", instance.definition_id) != instance.definition_id:
        statement, params["p_definition"] = SAVE_MIGRATED_INSTANCE, values["definition_id"]
    if execute(session, statement, params).rowcount != 1:
        raise ConflictError("Someone else changed this process instance first; reload and try again.")
    written(session, Instance, instance, values)
    return values["lock_version"]
