"""A filtered view of the event log, folded into cases and activity instances.

Mining reads the event log, folded as it is written into ``mining_cases`` and ``mining_acts``
(see :mod:`engine.mining.fold`), through two temporary views of the filtered rows (tables
when a working calendar is used):

* cases: one row per process instance (its ``instance`` start/complete/cancel events),
* acts: one row per activity instance (a task id: schedule, assign, start, complete, cancel).

Every time is kept twice: ``t_*`` is wall-clock seconds since 1970 (UTC), ``c_*`` is the
*clock* the durations are measured on — the same seconds, or working seconds when a
:class:`~engine.core.calendar.WorkingCalendar` is given. A duration is always ``c_b - c_a``.

The SQL is portable between SQLite and PostgreSQL; the few differences (epoch seconds,
floor, ordered string aggregation) are the functions at the top.
"""
import itertools
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from engine.core.calendar import DAY, EPOCH, WorkingCalendar
from engine.core.models import utcnow

_names = itertools.count(1)
REPORT_WORK_MEM = "64MB"  # PostgreSQL sort memory while a view is open


def dialect_of(session: Session | Connection) -> str:
    """The dialect name of a session (or a connection)."""
    bind = session if isinstance(session, Connection) else session.get_bind()
    return bind.dialect.name


def epoch_sql(expr: str, dialect: str) -> str:
    """Seconds since 1970 of a naive UTC timestamp column, as a float."""
    if dialect == "sqlite":
        # julianday keeps ~50 microseconds of precision at today's dates; round to the millisecond.
        return f"ROUND((julianday({expr}) - 2440587.5) * 86400.0, 3)"
    return f"CAST(EXTRACT(EPOCH FROM {expr}) AS DOUBLE PRECISION)"


def floor_sql(expr: str, dialect: str) -> str:
    """Floor of a non-negative number (SQLite's CAST truncates, PostgreSQL's rounds)."""
    return f"CAST({expr} AS INTEGER)" if dialect == "sqlite" else f"CAST(FLOOR({expr}) AS BIGINT)"


def ordered_concat_sql(column: str, order_by: str, dialect: str, source: str) -> str:
    """``(instance_id, path)``: ``column`` values of each instance joined with '|' in ``order_by`` order.

    ``source`` is a FROM clause with ``instance_id`` and the referenced columns.
    """
    if dialect == "sqlite":
        # SQLite before 3.44 has no ORDER BY inside group_concat; it aggregates in the
        # order of an ordered subquery.
        return (f"SELECT instance_id, group_concat({column}, '|') AS path FROM "
                f"(SELECT instance_id, {column} FROM {source} ORDER BY instance_id, {order_by}) "
                f"GROUP BY instance_id")
    return f"SELECT instance_id, string_agg({column}, '|' ORDER BY {order_by}) AS path FROM {source} GROUP BY instance_id"


@dataclass(frozen=True)
class LogFilter:
    """Which part of the log to mine. Every field is optional; ``None`` means all.

    ``since``/``until`` select the cases *started* in ``[since, until)``.
    """

    process: str | None = None  # the BPMN process id (definition key)
    version: int | None = None  # definition version
    community_id: int | None = None
    town_id: int | None = None
    organization_id: int | None = None
    since: datetime | date | None = None
    until: datetime | date | None = None
    instance_id: int | None = None

    def event_conditions(self, alias: str = "e") -> tuple[list[str], dict[str, Any]]:
        """SQL conditions on event rows and their bind parameters (date range excluded)."""
        columns = {"process": "definition_key", "version": "definition_version",
                   "community_id": "community_id", "town_id": "town_id",
                   "organization_id": "organization_id", "instance_id": "instance_id"}
        conditions: list[str] = []
        params: dict[str, Any] = {}
        for name, column in columns.items():
            value = getattr(self, name)
            if value is not None:
                conditions.append(f"{alias}.{column} = :f_{name}")
                params[f"f_{name}"] = value
        return conditions, params

    def started_conditions(self, column: str) -> tuple[list[str], dict[str, Any]]:
        """SQL conditions selecting cases whose start timestamp ``column`` is in the range."""
        conditions: list[str] = []
        params: dict[str, Any] = {}
        if self.since is not None:
            conditions.append(f"{column} >= :f_since")
            params["f_since"] = _as_datetime(self.since)
        if self.until is not None:
            conditions.append(f"{column} < :f_until")
            params["f_until"] = _as_datetime(self.until)
        return conditions, params

    def describe(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def _as_datetime(value: datetime | date) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())


def epoch_of(moment: datetime) -> float:
    return (moment - EPOCH).total_seconds()


@dataclass
class LogView:
    """Names of the temporary tables of one view and what mining needs to query them."""

    session: Session
    dialect: str
    cases: str
    acts: str
    now: datetime
    c_now: float  # the clock reading of ``now``
    calendar: WorkingCalendar | None = None
    # The acts are every row of ``mining_acts`` and durations are wall-clock seconds: a report
    # may read the table's indexes (each activity's durations in order, the follows edges)
    # instead of the view's rows.
    whole: bool = False

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Run ``sql`` with ``{cases}`` and ``{acts}`` substituted; rows as dicts."""
        result = self.session.execute(text(sql.format(cases=self.cases, acts=self.acts)), params)
        return [dict(row._mapping) for row in result]

    def tuples(self, sql: str, **params: Any) -> Sequence[Any]:
        """Run ``sql`` like :meth:`rows`; rows as plain tuples straight from the database driver.

        For the few hundred thousand rows a report folds in Python: building result rows
        costs more than the query (parameters are rendered as SQL literals).
        """
        query = text(sql.format(cases=self.cases, acts=self.acts))
        if params:
            query = query.bindparams(**params)
        return self.probe(str(query.compile(dialect=self.session.get_bind().dialect,
                                            compile_kwargs={"literal_binds": True})))

    def probe(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of ``sql`` as the database driver returns them (parameters in its own style,
        e.g. ``?`` on SQLite): the index probes of a report."""
        cursor = self.session.connection().connection.cursor()
        try:
            cursor.execute(sql, tuple(params))
            return list(cursor.fetchall())
        finally:
            cursor.close()


@contextmanager
def log_view(session: Session, filters: LogFilter | None = None, calendar: WorkingCalendar | None = None,
             now: datetime | None = None) -> Generator[LogView, None, None]:
    """Build the cases and acts tables for ``filters``; drop them when the block ends.

    ``calendar`` (a WorkingCalendar) makes every duration count working time only;
    ``now`` (naive UTC) is the moment running cases are aged against.
    """
    filters = filters or LogFilter()
    if now is None:
        now = utcnow()
    dialect = dialect_of(session)
    suffix = f"{next(_names)}"
    cases, acts, cal = f"mining_cases_{suffix}", f"mining_acts_{suffix}", f"mining_cal_{suffix}"
    created = []  # (kind, name), dropped in reverse order
    if dialect == "postgresql":
        # The report sorts a few hundred thousand narrow rows; keep those sorts in memory
        # (for this transaction only).
        session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
    # Wall-clock durations read the mining tables through views (nothing copied); a working
    # calendar's clock is a lookup per time, computed once into temporary tables.
    kind = "VIEW" if calendar is None else "TABLE"
    try:
        clock = _install_clock(session, dialect, calendar, cal, now, created)
        _create_cases(session, dialect, filters, clock, cases, kind)
        created.append((kind, cases))
        # When every act is selected, the acts view reads the table without conditions (the
        # same rows, and queries joining it plan as on the table itself).
        whole = calendar is None and _every_act_selected(session, filters, cases)
        _create_acts(session, dialect, None if whole else filters, clock, cases, acts, kind)
        created.append((kind, acts))
        c_now = session.execute(text(f"SELECT {clock(':now_epoch')}"), {"now_epoch": epoch_of(now)}).scalar_one()
        yield LogView(session, dialect, cases, acts, now, c_now, calendar, whole)
    finally:
        for kind, name in reversed(created):
            session.execute(text(f"DROP {kind} IF EXISTS {name}"))


# Declared column types: SQLite gives CREATE TABLE AS columns of expressions no affinity,
# and then will not use the instance_id index for joins.
_T, _S, _I, _F = "VARCHAR(300)", "VARCHAR(100)", "BIGINT", "DOUBLE PRECISION"
CASE_COLUMNS = (("instance_id", _I), ("definition_key", _S), ("definition_version", _I), ("town_id", _I),
                ("community_id", _I), ("organization_id", _I), ("title", _T), ("t_start", _F), ("t_end", _F),
                ("c_start", _F), ("c_end", _F), ("status", "VARCHAR(20)"))
ACT_COLUMNS = (("task_id", _S), ("instance_id", _I), ("activity_id", _S), ("activity_name", _T),
               ("activity_type", _S), ("step", _I), ("role", _S), ("resource", _S), ("seq_first", _I), ("seq_done", _I),
               *((f"{kind}_{name}", _F) for kind in "tc" for name in ("sched", "pickup", "start", "done", "cancel")))


def _temp_create(session, name, columns, select_sql, params, kind="TABLE"):
    """Create temporary ``name`` with ``columns`` from ``select_sql``: a view, or a typed, indexed table."""
    if kind == "VIEW":
        # A view cannot take bind parameters: the filter values are rendered as SQL literals.
        query = text(select_sql).bindparams(**params).compile(
            dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        session.connection().exec_driver_sql(
            f"CREATE TEMPORARY VIEW {name} ({', '.join(c for c, _ in columns)}) AS {query}")
        return
    session.execute(text(f"CREATE TEMPORARY TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns)})"))
    session.execute(text(f"INSERT INTO {name} ({', '.join(c for c, _ in columns)}) {select_sql}"), params)
    session.execute(text(f"CREATE INDEX ix_{name} ON {name} (instance_id)"))
    if dialect_of(session) == "postgresql":
        # Temporary tables get no statistics on their own; without them the planner walks the
        # index where a scan and an in-memory sort are faster.
        session.execute(text(f"ANALYZE {name}"))


def _every_act_selected(session, filters, cases):
    """Whether the view's acts are every row of the mining table (the filter leaves none out).

    Filters on what may vary along a case (version, place, organization) or on one case
    leave acts out in any log worth filtering: no. Otherwise (process, start dates) the
    filter selects whole cases: yes when it selects every case and every act has its case.
    """
    if any(getattr(filters, name) is not None for name in ("version", "community_id", "town_id", "organization_id",
                                                            "instance_id")):
        return False
    every_case, selected, every_act, of_cases = session.execute(text(f"""
        SELECT (SELECT COUNT(*) FROM mining_cases), (SELECT COUNT(*) FROM {cases}), (SELECT COUNT(*) FROM mining_acts),
               (SELECT COUNT(*) FROM mining_acts WHERE instance_id IN (SELECT instance_id FROM mining_cases))""")).one()
    return every_case == selected and every_act == of_cases


def _install_clock(session, dialect, calendar, table, now, created):
    """Return ``clock(sql_epoch_expr) -> sql``; with a calendar, fill its day table first."""
    if calendar is None:
        return lambda expr: f"({expr})"
    first, last = session.execute(text("SELECT MIN(ts), MAX(ts) FROM events")).one()
    first = _parse_ts(first) or now
    last = max(_parse_ts(last) or now, now)
    offset = calendar.utc_offset_hours * 3600.0
    first_day = (first + timedelta(seconds=offset)).date() - timedelta(days=1)
    last_day = (last + timedelta(seconds=offset)).date() + timedelta(days=1)
    session.execute(text(f"CREATE TEMPORARY TABLE {table} (day BIGINT PRIMARY KEY, days_before BIGINT, working INTEGER)"))
    created.append(("TABLE", table))
    rows = calendar.day_table(first_day, last_day)
    session.execute(text(f"INSERT INTO {table} (day, days_before, working) VALUES (:d, :b, :w)"),
                    [{"d": d, "b": b, "w": w} for d, b, w in rows])

    def clock(expr):
        local = f"(({expr}) + {offset})"
        day = floor_sql(f"{local} / {DAY}.0", dialect)
        return (f"(SELECT k.days_before * {DAY}.0 + k.working * ({local} - k.day * {DAY}.0) "
                f"FROM {table} k WHERE k.day = {day})")
    return clock


def _parse_ts(value):
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _create_cases(session, dialect, filters, clock, table, kind):
    conditions, params = filters.event_conditions("m")
    # The date range is on the case start, kept as epoch seconds.
    for name, op in (("since", ">="), ("until", "<")):
        value = getattr(filters, name)
        if value is not None:
            conditions.append(f"m.t_start {op} :f_{name}")
            params[f"f_{name}"] = epoch_seconds(_as_datetime(value), dialect)
    where = " AND ".join(["m.t_start IS NOT NULL", *conditions])
    select_sql = f"""
        SELECT instance_id, definition_key, definition_version, town_id, community_id, organization_id,
               title, t_start, t_end, {clock("t_start")}, {clock("t_end")},
               CASE ended WHEN 2 THEN 'completed' WHEN 1 THEN 'cancelled' ELSE 'running' END
        FROM mining_cases m WHERE {where}"""
    _temp_create(session, table, CASE_COLUMNS, select_sql, params, kind)


def epoch_seconds(moment: datetime, dialect: str) -> float:
    """Seconds since 1970 of a naive UTC datetime, exactly as :func:`epoch_sql` computes them."""
    if dialect != "sqlite":
        return epoch_of(moment)
    # SQLite reads the stored text's seconds as a double and keeps whole milliseconds,
    # rounding half up (``(int)(s * 1000 + 0.5)`` in its date code); rounding the exact value
    # instead disagrees whenever the microseconds end in 500.
    minute = moment.replace(second=0, microsecond=0)
    seconds = moment.second + moment.microsecond / 1e6
    return round((int(epoch_of(minute)) * 1000 + int(seconds * 1000 + 0.5)) / 1000, 3)


def _create_acts(session, dialect, filters, clock, cases, table, kind):
    """The acts of the selected cases that ``filters`` select (``None``: every row of the table)."""
    where, params = "1 = 1", {}
    if filters is not None:
        conditions, params = filters.event_conditions("m")
        # The unary + keeps SQLite scanning the table in order instead of one index probe per
        # case (most acts belong to a selected case).
        where = " AND ".join([f"+m.instance_id IN (SELECT instance_id FROM {cases})", *conditions])
    names = ("sched", "pickup", "start", "done", "cancel")
    select_sql = f"""
        SELECT task_id, instance_id, activity_id, activity_name, activity_type, step, role, resource, seq_first, seq_done,
               {", ".join(f"t_{n}" for n in names)}, {", ".join(clock(f"t_{n}") for n in names)}
        FROM mining_acts m WHERE {where}"""
    _temp_create(session, table, ACT_COLUMNS, select_sql, params, kind)
