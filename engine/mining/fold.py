"""Activity instances and cases folded from the event log, kept up to date as events are written.

Mining needs, per activity instance (a task), when it was scheduled, picked up, started,
completed or cancelled; per case, when it started and ended. Folding a million events into
those rows on every report is what made reports slow, so the fold is kept in
:class:`~engine.mining.models.MiningAct` and :class:`~engine.mining.models.MiningCase`:

* :func:`fold_events` merges freshly written event rows in (one upsert per table, in the
  writer's transaction); merging is order-free (first schedule, last completion, ...), so
  events may arrive in any batches;
* :func:`rebuild` derives both tables from the whole ``events`` table in one SQL pass each
  (bulk-loaded logs, or data written before these tables existed).
"""
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import timezone
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, text
from sqlalchemy.orm import Session

from engine.core import stepwrites
from engine.core.db import table_of
from engine.core.models import Event
from engine.errors import SansheError
from engine.mining.logview import dialect_of, epoch_seconds, epoch_sql
from engine.mining.models import MiningAct

ATTRIBUTES = ("definition_key", "definition_version", "town_id", "community_id", "organization_id")
# Attributes that may change while a task is open (a case moves to a new diagram version, gets
# its contractor): the fold keeps their largest value.
VARYING = ("definition_version", "town_id", "community_id", "organization_id")
# Per act column: how two partial folds of the same task merge (as the SQL aggregate would).
ACT_MERGE = {"instance_id": "min", "activity_id": "min", "activity_name": "max", "activity_type": "max",
             "step": "max", "role": "max", "resource": "max", **{a: "max" for a in ATTRIBUTES},
             "t_sched": "min", "t_pickup": "min", "t_start": "min", "t_done": "max", "t_cancel": "max",
             "seq_first": "min", "seq_done": "max"}
ACTIVITY_MERGE = {"activity_name": "max", "activity_type": "max", "step": "max", "role": "max"}
CASE_MERGE = {**{a: "max" for a in ATTRIBUTES}, "title": "max", "t_start": "min", "t_end": "max", "ended": "max"}
# Which act time a transition sets.
ACT_TIMES = {"schedule": ("t_sched",), "assign": ("t_pickup",), "start": ("t_pickup", "t_start"),
             "complete": ("t_done",), "cancel": ("t_cancel",)}


# The same fold in SQL, over events ``e`` grouped by activity instance: ts_sched, ts_pickup,
# ts_start, ts_done and ts_cancel (also used by the CSV export).
ACT_TIMES_SQL = """MIN(CASE WHEN e.transition = 'schedule' THEN e.ts END) AS ts_sched,
               MIN(CASE WHEN e.transition IN ('assign', 'start') THEN e.ts END) AS ts_pickup,
               MIN(CASE WHEN e.transition = 'start' THEN e.ts END) AS ts_start,
               MAX(CASE WHEN e.transition = 'complete' THEN e.ts END) AS ts_done,
               MAX(CASE WHEN e.transition = 'cancel' THEN e.ts END) AS ts_cancel"""

REBUILD_MEMORY = "256MB"  # PostgreSQL's sort and hash memory while the mining tables are rebuilt
_UPSERTS = {}  # (dialect, table): statement; built once, the engine writes on every step


def _upsert(dialect, table, key, merge):
    if (dialect, table) not in _UPSERTS:
        _UPSERTS[dialect, table] = text(_upsert_sql(dialect, table, key, merge))
    return _UPSERTS[dialect, table]


def _upsert_sql(dialect, table, key, merge):
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` merging each column NULL-aware by min/max."""
    funcs = {"min": "min", "max": "max"} if dialect == "sqlite" else {"min": "LEAST", "max": "GREATEST"}
    columns = [key, *merge]
    updates = ", ".join(
        f"{c} = COALESCE({funcs[how]}({table}.{c}, excluded.{c}), {table}.{c}, excluded.{c})"
        for c, how in merge.items())
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(f':{c}' for c in columns)}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}")


def _merge(into, row, merge):
    for column, how in merge.items():
        new, old = row.get(column), into.get(column)
        if new is None:
            continue
        if old is None or (new < old if how == "min" else new > old):
            into[column] = new


def _epoch(moment, dialect):
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return epoch_seconds(moment, dialect)  # the same value the SQL fold (rebuild) computes


def fold_events(session: Session, rows: Iterable[Mapping[str, Any] | Event],
                event_ids: Sequence[int] | None = None) -> None:
    """Merge event rows (dicts or :class:`~engine.core.models.Event` objects) into the mining tables.

    ``event_ids`` (parallel to ``rows``) key the events that have no task id.
    """
    dialect = dialect_of(session)
    acts, cases = {}, {}
    for index, row in enumerate(rows):
        get = row.get if isinstance(row, dict) else lambda name, row=row: getattr(row, name)
        ts, transition, kind = get("ts"), str(get("transition")), get("activity_type")
        t = _epoch(ts, dialect)
        attributes = {a: get(a) for a in ATTRIBUTES}
        if kind == "instance":
            if get("activity_id") != "instance":
                continue
            fold = {**attributes, "instance_id": get("instance_id"), "title": get("activity_name"), "ended": 0,
                    "t_start": t if transition == "start" else None,
                    "t_end": t if transition in ("complete", "cancel") else None}
            fold["ended"] = {"complete": 2, "cancel": 1}.get(transition, 0)
            _merge(cases.setdefault(fold["instance_id"], {"instance_id": fold["instance_id"]}), fold, CASE_MERGE)
            continue
        key = get("task_id")
        if key is None:
            if event_ids is None:
                raise SansheError("Events without a task id need their event ids to be folded.")
            key = f"event-{event_ids[index]}"
        fold = {**attributes, "instance_id": get("instance_id"), "activity_id": get("activity_id"),
                "activity_name": get("activity_name"), "activity_type": kind, "step": get("step"), "role": get("role"),
                "resource": get("resource") if transition == "complete" else None,
                "seq_first": get("seq"), "seq_done": get("seq") if transition == "complete" else None}
        for column in ACT_TIMES.get(transition, ()):
            fold[column] = t
        _merge(acts.setdefault(key, {"task_id": key}), fold, ACT_MERGE)
    # From where on in each case the completions' order may have changed: the earliest new
    # completion, or an earlier one of a task completed again (it moves to its new place).
    moved: dict[Any, float] = {}
    for fold in acts.values():
        t_done, case = fold.get("t_done"), fold["instance_id"]
        if t_done is not None and (case not in moved or t_done < moved[case]):
            moved[case] = t_done
    if moved:
        done = [key for key, fold in acts.items() if fold.get("t_done") is not None]
        earliest: Sequence[Any] = stepwrites.execute(session, _EARLIER_DONE[dialect], {"ids": _keys(done, dialect)}).all()
        for case, earlier in earliest:
            moved[case] = min(earlier, moved[case])
    activities = _changed_activities(session, dialect, acts)
    for table, key, merge, folded in (("mining_acts", "task_id", ACT_MERGE, acts),
                                      ("mining_cases", "instance_id", CASE_MERGE, cases),
                                      ("mining_activities", "activity_id", ACTIVITY_MERGE, activities)):
        if folded:
            # In the order of the key: two steps writing the same rows lock them in one order.
            params = [{c: f.get(c) for c in (key, *merge)} for _k, f in sorted(folded.items())]
            stepwrites.execute(session, _upsert(dialect, table, key, merge), params)
    if moved:
        stepwrites.execute(session, _FOLLOWS, [{"case": case, "since": since} for case, since in moved.items()])


def _changed_activities(session: Session, dialect: str,
                        acts: Mapping[Any, Mapping[str, Any]]) -> dict[Any, dict[str, Any]]:
    """The activities of ``acts`` whose kept row lacks or differs from what they bring.

    Every step of every case touches the same few activity rows: writing them each time
    would make concurrent steps wait for each other's commit (PostgreSQL locks a row an
    upsert touches, changed or not). They are read first and written only when new.
    """
    brought: dict[Any, dict[str, Any]] = {}
    for fold in acts.values():
        if fold.get("activity_id") is not None:
            _merge(brought.setdefault(fold["activity_id"], {"activity_id": fold["activity_id"]}), fold, ACTIVITY_MERGE)
    if not brought:
        return brought
    kept = {row[0]: dict(zip(ACTIVITY_MERGE, row[1:]))
            for row in stepwrites.execute(session, _KNOWN_ACTIVITIES[dialect], {"ids": _keys(brought, dialect)}).all()}
    return {activity: values for activity, values in brought.items()
            if activity not in kept or any(values.get(c) is not None and values.get(c) != kept[activity][c]
                                           for c in ACTIVITY_MERGE)}


def _keys(keys: Iterable[str], dialect: str) -> Any:
    """A list of string keys as one bind parameter (see :func:`_in_keys`)."""
    return json.dumps(sorted(keys)) if dialect == "sqlite" else sorted(keys)


def _in_keys(column: str, dialect: str) -> str:
    """``column`` is one of the keys bound as ``:ids``: one parameter, not one per key (which
    SQLAlchemy renders anew on every execution; these run on every step)."""
    if dialect == "sqlite":
        return f"{column} IN (SELECT value FROM json_each(:ids))"
    return f"{column} = ANY(CAST(:ids AS VARCHAR[]))"


_KNOWN_ACTIVITIES = {dialect: text(f"""SELECT activity_id, {', '.join(ACTIVITY_MERGE)} FROM mining_activities
                                        WHERE {_in_keys('activity_id', dialect)}""")
                     for dialect in ("sqlite", "postgresql")}
# The completions already folded of the tasks a batch completes (a task completed again).
_EARLIER_DONE = {dialect: text(f"""SELECT instance_id, MIN(t_done) FROM mining_acts
                                    WHERE {_in_keys('task_id', dialect)} AND t_done IS NOT NULL GROUP BY instance_id""")
                 for dialect in ("sqlite", "postgresql")}
# Each completion of a case from ``since`` on gets the completion before it in the case (in
# the order of COMPLETION_ORDER; one index probe each): the edges of the directly-follows graph.
_BEFORE = """(SELECT p.{column} FROM mining_acts p WHERE p.instance_id = mining_acts.instance_id
                AND p.t_done IS NOT NULL
                AND (p.t_done, p.seq_done, p.activity_id) < (mining_acts.t_done, mining_acts.seq_done, mining_acts.activity_id)
                ORDER BY p.t_done DESC, p.seq_done DESC, p.activity_id DESC LIMIT 1)"""
_FOLLOWS_ALL = f"""UPDATE mining_acts SET prev_activity = {_BEFORE.format(column="activity_id")},
                                        t_prev = {_BEFORE.format(column="t_done")}
                   WHERE t_done IS NOT NULL"""
_FOLLOWS = text(f"{_FOLLOWS_ALL} AND instance_id = :case AND t_done >= :since")


def number_events(session: Session) -> int:
    """Give the events of every case that has unnumbered ones their sequence in the case.

    The engine numbers events as it writes them; a log loaded around it (or written before
    events were numbered) is numbered here in the order of time, then of writing (event id).
    Returns how many events were numbered.
    """
    result = session.execute(text("""
        UPDATE events SET seq = n.n FROM (
            SELECT e.id, ROW_NUMBER() OVER (PARTITION BY e.instance_id ORDER BY e.ts, e.id) AS n
            FROM events e WHERE e.instance_id IN (SELECT u.instance_id FROM events u WHERE u.seq IS NULL)) n
        WHERE n.id = events.id"""))
    return cast(CursorResult[Any], result).rowcount


def rebuild(session: Session) -> tuple[int, int]:
    """Derive the mining tables from the whole event log (replacing what they held).

    Returns ``(cases, activity instances)`` now in them.
    """
    dialect = dialect_of(session)
    if dialect == "postgresql":
        # Group, sort and index a million rows in memory (this transaction only).
        session.execute(text(f"SET LOCAL work_mem = '{REBUILD_MEMORY}'"))
        session.execute(text(f"SET LOCAL maintenance_work_mem = '{REBUILD_MEMORY}'"))
    number_events(session)
    # Emptying and filling the table without its secondary index and building that once
    # afterwards (one sort) is cheaper than updating it row by row.
    secondary = list(table_of(MiningAct).indexes)
    connection = session if isinstance(session, Connection) else session.connection()
    for index in secondary:
        session.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
    # (PostgreSQL: TRUNCATE leaves no dead rows behind for the inserts to wade through.)
    empty = "DELETE FROM" if dialect == "sqlite" else "TRUNCATE"
    for table in ("mining_acts", "mining_cases", "mining_activities"):
        session.execute(text(f"{empty} {table}"))
    cases = f"""
        SELECT e.instance_id, {', '.join(f'MAX(e.{a}) AS {a}' for a in ATTRIBUTES)}, MAX(e.activity_name) AS title,
               MIN(CASE WHEN e.transition = 'start' THEN e.ts END) AS ts_start,
               MAX(CASE WHEN e.transition IN ('complete', 'cancel') THEN e.ts END) AS ts_end,
               MAX(CASE WHEN e.transition = 'complete' THEN 2 WHEN e.transition = 'cancel' THEN 1 ELSE 0 END) AS ended
        FROM events e WHERE e.activity_id = 'instance' AND e.activity_type = 'instance'
        GROUP BY e.instance_id"""
    session.execute(text(f"""
        INSERT INTO mining_cases (instance_id, {', '.join(ATTRIBUTES)}, title, t_start, t_end, ended)
        SELECT s.instance_id, {', '.join(f's.{a}' for a in ATTRIBUTES)}, s.title,
               {epoch_sql('s.ts_start', dialect)}, {epoch_sql('s.ts_end', dialect)}, s.ended
        FROM ({cases}) s"""))
    # Events without a task id (a message caught by the instance) are their own activity instance.
    key = "COALESCE(e.task_id, 'event-' || CAST(e.id AS VARCHAR(20)))"
    names = ("sched", "pickup", "start", "done", "cancel")
    # One pass over the events, grouped by activity instance with only what varies along a
    # task (its times, who completed it, the case's scope); what the engine writes the same
    # on every event of a task (its case, BPMN element, name, type, step, role, process) is
    # read from the task's first event. Fewer aggregates and narrower sort rows: this is
    # most of the rebuild's time.
    acts = f"""
        SELECT {key} AS task_id, MIN(e.id) AS first_id,
               MAX(CASE WHEN e.transition = 'complete' THEN e.resource END) AS resource,
               {', '.join(f'MAX(e.{a}) AS {a}' for a in VARYING)},
               MIN(e.seq) AS seq_first, MAX(CASE WHEN e.transition = 'complete' THEN e.seq END) AS seq_done,
               {ACT_TIMES_SQL}
        FROM events e WHERE e.activity_type <> 'instance'
        GROUP BY {key}"""
    plain = {"task_id": "s", "instance_id": "r", "activity_id": "r", "activity_name": "r", "activity_type": "r",
             "step": "r", "role": "r", "resource": "s", **{a: ("s" if a in VARYING else "r") for a in ATTRIBUTES},
             "seq_first": "s", "seq_done": "s"}
    # Each completion's predecessor in its case. SQLite finds it as fold_events does, one probe
    # of the case's completions in order each, after the insert: a window over the folded rows
    # sorts them all once more and cost twice as much. PostgreSQL sorts quickly and probes
    # slowly (a window 2 s, the probes 11 s at a million events): it numbers them as it inserts.
    window = dialect != "sqlite"
    done = epoch_sql("s.ts_done", dialect)
    follows = (f""", CASE WHEN s.ts_done IS NOT NULL THEN LAG(r.activity_id) OVER w END,
                   CASE WHEN s.ts_done IS NOT NULL THEN LAG({done}) OVER w END""" if window else "")
    session.execute(text(f"""
        INSERT INTO mining_acts ({', '.join(plain)}, {', '.join(f't_{n}' for n in names)}
                                 {', prev_activity, t_prev' if window else ''})
        SELECT {', '.join(f'{alias}.{c}' for c, alias in plain.items())},
               {', '.join(epoch_sql(f's.ts_{n}', dialect) for n in names)} {follows}
        FROM ({acts}) s JOIN events r ON r.id = s.first_id
        {f'WINDOW w AS (PARTITION BY r.instance_id, s.ts_done IS NULL ORDER BY {done}, s.seq_done, r.activity_id)'
         if window else ''}"""))
    instance_index = next(index for index in secondary if index.name == "ix_mining_acts_instance")
    instance_index.create(connection)
    if not window:
        session.execute(text(_FOLLOWS_ALL))
    session.execute(text(f"""
        INSERT INTO mining_activities (activity_id, {', '.join(ACTIVITY_MERGE)})
        SELECT activity_id, {', '.join(f'MAX({c})' for c in ACTIVITY_MERGE)}
        FROM mining_acts WHERE activity_id IS NOT NULL GROUP BY activity_id"""))
    for index in secondary:
        if index is not instance_index:
            index.create(connection)
    if dialect == "postgresql":
        session.execute(text("ANALYZE mining_acts, mining_cases"))  # fresh statistics after a bulk change
    cases_n, acts_n = (session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                       for table in ("mining_cases", "mining_acts"))
    return cases_n, acts_n


__all__ = ["fold_events", "number_events", "rebuild"]
