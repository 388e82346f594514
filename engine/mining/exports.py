"""Streamed exports of the event log: XES, CSV (activity instances) and OCEL 2.0 JSON.

Each exporter is a generator of text chunks that reads the log with a server-side cursor
(``yield_per``), so memory stays flat however long the log is; :func:`write_export`
writes one to a file object. ``progress(n)`` is called with the number of event rows read
since the last call. Timestamps are UTC.
"""
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TextIO
from xml.sax.saxutils import quoteattr

from sqlalchemy import text
from sqlalchemy.orm import Session

from engine.queries.listings import scope_names
from engine.mining.fold import ACT_TIMES_SQL
from engine.errors import Text, ValidationError
from engine.mining.logview import LogFilter, dialect_of
from engine.mining.cycle_times import VOTE_TALLY_ACTIVITY

Progress = Callable[[int], object]  # called with the number of event rows read since the last call
BATCH = 5000
# Event log transitions -> the XES standard lifecycle model (a cancel before start is a withdraw).
XES_TRANSITIONS = {"schedule": "schedule", "assign": "assign", "start": "start", "complete": "complete"}
# OCEL object types an activity's step touches, besides its project, community and organization.
STEP_OBJECTS = {2: "application", 3: "application", 4: "vote", 5: "agreement", 7: "evaluation"}
# Instance events become OCEL events of the project object (its lead time shows in PM4Py).
PROJECT_EVENTS = {"start": "Project started", "complete": "Project completed", "cancel": "Project terminated"}
# How an instance event ends its case: the case status every export carries.
CASE_STATUS = {"complete": "completed", "cancel": "cancelled"}
OCEL_TYPES = ("project", "application", "agreement", "vote", "evaluation", "organization", "community")


def _iso_sql(column, dialect):
    if dialect == "sqlite":
        return f"strftime('%Y-%m-%dT%H:%M:%f', {column})"
    return f"to_char({column}, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS')"


def _where(filters, alias="e"):
    conditions, params = filters.event_conditions(alias)
    range_conditions, range_params = filters.started_conditions("s.ts")
    if range_conditions:
        conditions.append(f"{alias}.instance_id IN (SELECT s.instance_id FROM events s WHERE s.activity_id = 'instance'"
                          f" AND s.transition = 'start' AND {' AND '.join(range_conditions)})")
        params.update(range_params)
    return " AND ".join(conditions) or "1 = 1", params


def count_events(session: Session, filters: LogFilter | None = None) -> int:
    """How many event rows an export of ``filters`` reads (for a progress bar)."""
    where, params = _where(filters or LogFilter())
    return session.execute(text(f"SELECT COUNT(*) FROM events e WHERE {where}"), params).scalar_one()


def _stream(session, sql, params, progress=None):
    """Rows of ``sql`` (tuple-like rows), read in batches of ``BATCH``.

    Results are streamed (``stream_results``: a server-side cursor on PostgreSQL), so memory
    stays flat for a million events.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # The stored text form of a time on SQLite is SQLAlchemy's, which a textual query
        # does not apply to its parameters: pass the same text.
        params = {k: v.isoformat(" ", "microseconds") if isinstance(v, datetime) else v for k, v in params.items()}
    result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(text(sql), params)
    for batch in result.partitions(BATCH):
        if progress:
            progress(len(batch))
        yield from batch


def _event_rows(session, filters, progress, complete_only=False):
    """Event rows of the selected cases in the order they happened: by case, time, then sequence.

    The resource of an event that names none (a schedule) is the person who took the task on,
    when anyone did (of the rows read: the largest name among its assign, start and complete).
    """
    dialect = dialect_of(session)
    where, params = _where(filters)
    if complete_only:
        where += " AND (e.transition = 'complete' OR e.activity_type = 'instance')"
    sql = f"""
        SELECT e.instance_id, e.task_id, e.activity_id, e.activity_name, e.activity_type, e.transition,
               {_iso_sql('e.ts', dialect)} AS ts, e.resource, e.role, e.step,
               e.community_id, e.organization_id, e.definition_key, e.definition_version, e.id, e.seq
        FROM events e WHERE {where} ORDER BY e.instance_id, e.ts, e.seq, e.id"""
    return _with_handlers(_stream(session, sql, params, progress))


def _with_handlers(rows):
    """``rows`` (by case) with each task's handler as the resource of its events that name none.

    Found per case in Python rather than by a window over the whole log: that window sorted
    every event once more and was most of the database's time of an export.
    """
    case, held, handlers = None, [], {}
    for row in rows:
        if row[0] != case:
            yield from _filled(held, handlers)
            case, held, handlers = row[0], [], {}
        held.append(row)
        task, resource = row[1], row[7]
        if task is not None and resource is not None and row[5] in ("assign", "start", "complete"):
            known = handlers.get(task)
            if known is None or resource > known:
                handlers[task] = resource
    yield from _filled(held, handlers)


def _filled(rows, handlers):
    for row in rows:
        if row[7] is None and row[1] in handlers:
            yield (*row[:7], handlers[row[1]], *row[8:])
        else:
            yield row


# Characters XML 1.0 cannot hold at all, not even escaped (C0 controls other than tab,
# newline and carriage return; lone surrogates; U+FFFE, U+FFFF). People paste them into
# titles from other programs; one would make the whole XES file unreadable.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean_text(value: str) -> str:
    """``value`` without the characters no XML file may contain."""
    return _NOT_IN_XML.sub("", value)


def csv_cell(value: object) -> object:
    """A text cell a spreadsheet shows as text: formula starts get a leading apostrophe."""
    if not isinstance(value, str):
        return value
    value = clean_text(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


class _Escaped(dict):
    """XML attribute values, cleaned and escaped once per distinct string (names and users repeat)."""

    def __missing__(self, value):
        quoted = quoteattr(clean_text(str(value)))
        if len(self) < 100_000:
            self[value] = quoted
        return quoted


def iter_xes(session: Session, filters: LogFilter | None = None, progress: Progress | None = None) -> Iterator[str]:
    """The log as IEEE 1849 XES: one trace per instance, lifecycle transitions of the standard model."""
    filters = filters or LogFilter()
    q = _Escaped()
    yield ('<?xml version="1.0" encoding="UTF-8" ?>\n'
           '<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">\n'
           '<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>\n'
           '<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>\n'
           '<extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>\n'
           '<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>\n'
           '<global scope="trace"><string key="concept:name" value="__INVALID__"/></global>\n'
           '<global scope="event"><string key="concept:name" value="__INVALID__"/>'
           '<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>'
           '<string key="lifecycle:transition" value="complete"/></global>\n'
           '<classifier name="Activity" keys="concept:name"/>\n'
           '<classifier name="Activity with transition" keys="concept:name lifecycle:transition"/>\n'
           '<string key="concept:name" value="Sanshe event log"/>\n'
           '<string key="lifecycle:model" value="standard"/>\n')
    current, head, body, started, status = None, "", [], set(), "running"
    for (instance_id, task_id, activity_id, name, kind, transition, ts, resource, role, step, community, _org,
         key, version, _id, seq) in _event_rows(session, filters, progress):
        if instance_id != current:
            if current is not None:
                yield head + _status(status) + "".join(body) + "</trace>\n"
            current, body, started, status = instance_id, [], set(), "running"
            head = f'<trace><string key="concept:name" value="{instance_id}"/>'
        if kind == "instance":  # case-level facts become trace attributes
            if transition == "start":
                head += (f'<string key="sanshe:process" value={q[key]}/><int key="sanshe:version" value="{version}"/>'
                         f'<int key="sanshe:community" value="{community}"/><string key="sanshe:title" value={q[name]}/>')
            else:
                status = CASE_STATUS.get(transition, status)
            continue
        if transition == "start":
            started.add(task_id)
        lifecycle = XES_TRANSITIONS.get(transition) or ("ate_abort" if task_id in started else "withdraw")
        parts = [f'<event><string key="concept:name" value={q[name or activity_id]}/>'
                 f'<date key="time:timestamp" value="{ts}+00:00"/>'
                 f'<string key="lifecycle:transition" value="{lifecycle}"/>'
                 f'<string key="sanshe:activity" value={q[activity_id]}/>']
        if seq is not None:
            parts.append(f'<int key="sanshe:seq" value="{seq}"/>')
        if task_id:
            parts.append(f'<string key="concept:instance" value="{task_id}"/>')
        if resource:
            parts.append(f'<string key="org:resource" value={q[resource]}/>')
        if role:
            parts.append(f'<string key="org:role" value={q[role]}/>')
        if step is not None:
            parts.append(f'<int key="sanshe:step" value="{step}"/>')
        if community is not None:
            parts.append(f'<int key="sanshe:community" value="{community}"/>')
        if version is not None:
            parts.append(f'<int key="sanshe:version" value="{version}"/>')
        parts.append("</event>")
        body.append("".join(parts))
    if current is not None:
        yield head + _status(status) + "".join(body) + "</trace>\n"
    yield "</log>\n"


def _status(status):
    return f'<string key="sanshe:status" value="{status}"/>'



CSV_COLUMNS = ("case_id", "activity_instance", "activity_id", "activity", "activity_type", "resource", "role", "step",
               "community_id", "organization_id", "process", "version", "case_status", "seq", "scheduled", "start",
               "complete", "cancelled")


def iter_csv(session: Session, filters: LogFilter | None = None, progress: Progress | None = None) -> Iterator[str]:
    """One row per activity instance: its schedule, start, complete and cancel timestamps.

    ``start`` falls back to the first assign, then to the schedule, so every completed
    row has a start (PM4Py reads ``start`` and ``complete`` as an interval log). Rows come in
    the order of completion (of the last event, for unfinished ones); ``seq`` is the case's
    event sequence number of that moment, which orders rows of the same time.
    """
    filters = filters or LogFilter()
    dialect = dialect_of(session)
    where, params = _where(filters)
    iso = lambda expr: _iso_sql(expr, dialect)  # noqa: E731
    sql = f"""
        SELECT instance_id, task_id, activity_id, activity_name, activity_type, resource, role, step,
               community_id, organization_id, definition_key, definition_version,
               COALESCE(c.status, 'running'), COALESCE(seq_done, seq_last),
               {iso('ts_sched')}, {iso('COALESCE(ts_start, ts_pickup, ts_sched, ts_done)')}, {iso('ts_done')},
               {iso('ts_cancel')}, n
        FROM (SELECT MIN(e.instance_id) AS instance_id, e.task_id, MIN(e.activity_id) AS activity_id,
                     MAX(e.activity_name) AS activity_name, MAX(e.activity_type) AS activity_type,
                     MAX(CASE WHEN e.transition = 'complete' THEN e.resource END) AS resource,
                     MAX(e.role) AS role, MAX(e.step) AS step, MAX(e.community_id) AS community_id,
                     MAX(e.organization_id) AS organization_id, MAX(e.definition_key) AS definition_key,
                     MAX(e.definition_version) AS definition_version, COUNT(*) AS n, {ACT_TIMES_SQL},
                     MAX(CASE WHEN e.transition = 'complete' THEN e.seq END) AS seq_done, MAX(e.seq) AS seq_last,
                     MAX(e.ts) AS ts_last
              FROM events e WHERE e.task_id IS NOT NULL AND {where} GROUP BY e.task_id) a
        LEFT JOIN (SELECT s.instance_id AS case_id,
                          MAX(CASE s.transition WHEN 'complete' THEN 'completed' WHEN 'cancel' THEN 'cancelled' END)
                          AS status
                   FROM events s WHERE s.activity_type = 'instance' AND s.activity_id = 'instance'
                   GROUP BY s.instance_id) c ON c.case_id = a.instance_id
        ORDER BY instance_id, COALESCE(ts_done, ts_last), COALESCE(seq_done, seq_last), task_id"""
    buffer = io.StringIO()
    # CRLF as RFC 4180 says: with "\n" alone, a field holding "\r" would not be quoted.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    pending = 0  # event rows behind the activity instances written since the last progress call
    for row in _stream(session, sql, params, None):
        writer.writerow([*map(csv_cell, row[:14]), *(f"{t}Z" if t else "" for t in row[14:18])])
        pending += row[18]
        if buffer.tell() > 1 << 16:
            if progress:
                progress(pending)
            pending = 0
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if progress and pending:
        progress(pending)
    yield buffer.getvalue()


def _ocel_objects(session, filters):
    """Object rows: (id, type, name, [(relationship target, qualifier)]).

    Every object an event of :func:`iter_ocel` relates to is declared here, by the same
    rules: a vote round per tally, and one more when step 4 work follows the last tally
    (a round still open).
    """
    where, params = _where(filters)
    step4 = "e.step = 4 AND e.transition = 'complete'"
    sql = f"""
        SELECT e.instance_id, MAX(e.community_id) AS community_id, MAX(e.organization_id) AS organization_id,
               MAX(CASE WHEN e.activity_type = 'instance' THEN e.activity_name END) AS title,
               SUM(CASE WHEN e.activity_id = :vote AND e.transition = 'complete' THEN 1 ELSE 0 END) AS votes,
               MAX(CASE WHEN {step4} AND e.activity_id = :vote THEN e.seq END) AS last_tally,
               MAX(CASE WHEN {step4} AND e.activity_id <> :vote THEN e.seq END) AS last_other,
               MAX(CASE WHEN e.step IN (2, 3) AND e.transition = 'complete' THEN 1 ELSE 0 END) AS application,
               MAX(CASE WHEN e.step = 5 AND e.transition = 'complete' THEN 1 ELSE 0 END) AS agreement,
               MAX(CASE WHEN e.step = 7 AND e.transition = 'complete' THEN 1 ELSE 0 END) AS evaluation
        FROM events e WHERE {where} GROUP BY e.instance_id ORDER BY e.instance_id"""
    for (case, community, organization, title, votes, last_tally, last_other, application, agreement,
         evaluation) in _stream(session, sql, {**params, "vote": VOTE_TALLY_ACTIVITY}):
        project = f"project:{case}"
        links = []
        if community is not None:
            links.append((f"community:{community}", "community"))
        if organization is not None:
            links.append((f"organization:{organization}", "contractor"))
        yield project, "project", title or project, links
        for kind, present in (("application", application), ("agreement", agreement), ("evaluation", evaluation)):
            if present:
                yield f"{kind}:{case}", kind, f"{kind} {case}", [(project, "of project")]
        rounds = (votes or 0) + (1 if last_other is not None and (last_tally is None or last_other > last_tally) else 0)
        for round_no in range(1, rounds + 1):
            yield f"vote:{case}:{round_no}", "vote", f"vote {case} round {round_no}", [(project, "of project")]
    # Events carry their own community and organization: declare every one they name.
    labels = scope_names(session)
    for kind in ("community", "organization"):
        ids = _stream(session, f"SELECT DISTINCT e.{kind}_id FROM events e WHERE e.{kind}_id IS NOT NULL "
                               f"AND (e.transition = 'complete' OR e.activity_type = 'instance') AND {where} "
                               f"ORDER BY 1", params)
        for (row_id,) in ids:
            yield f"{kind}:{row_id}", kind, labels.get((kind, row_id)) or f"{kind} {row_id}", []


def iter_ocel(session: Session, filters: LogFilter | None = None, progress: Progress | None = None) -> Iterator[str]:
    """OCEL 2.0 JSON: completed activities as events, related to the objects they touch.

    The start and end of each instance are events too ("Project started", "Project
    completed" or "Project terminated"), related to the project only.

    Every event relates to its project, community and organization; steps 2-3 also to
    the application, step 4 to the vote round, step 5 to the agreement, step 7 to the
    evaluation.
    """
    filters = filters or LogFilter()
    dump = json.dumps
    where, params = _where(filters)
    names = [r[0] for r in session.execute(text(
        f"SELECT DISTINCT COALESCE(NULLIF(e.activity_name, ''), e.activity_id) FROM events e "
        f"WHERE e.transition = 'complete' AND e.activity_type <> 'instance' AND {where}"), params)]
    event_attributes = [{"name": n, "type": t} for n, t in (("activity_id", "string"), ("resource", "string"),
                                                             ("role", "string"), ("step", "integer"),
                                                             ("seq", "integer"))]
    yield dump({"objectTypes": [{"name": t, "attributes": [{"name": "name", "type": "string"}]} for t in OCEL_TYPES],
                "eventTypes": [*({"name": n, "attributes": event_attributes}
                                 for n in sorted({clean_text(n) for n in names})),
                               *({"name": n, "attributes": []} for n in PROJECT_EVENTS.values())]})[:-1]
    yield ', "objects": ['
    first = True
    for object_id, kind, name, links in _ocel_objects(session, filters):
        item = {"id": object_id, "type": kind, "attributes": [{"name": "name", "time": "1970-01-01T00:00:00Z",
                                                               "value": clean_text(name)}],
                "relationships": [{"objectId": target, "qualifier": qualifier} for target, qualifier in links]}
        yield ("" if first else ",") + dump(item, ensure_ascii=False)
        first = False
    yield '], "events": ['
    first, votes = True, {}
    for (case, task_id, activity_id, name, kind, _transition, ts, resource, role, step, community, organization,
         _key, _version, event_id, seq) in _event_rows(session, filters, progress, complete_only=True):
        if kind == "instance":
            item = {"id": f"e{event_id}", "type": PROJECT_EVENTS[_transition], "time": f"{ts}Z", "attributes": [],
                    "relationships": [{"objectId": f"project:{case}", "qualifier": "project"}]}
            yield ("" if first else ",") + dump(item, ensure_ascii=False)
            first = False
            continue
        if activity_id == VOTE_TALLY_ACTIVITY:
            votes[case] = votes.get(case, 0) + 1
        related = [{"objectId": f"project:{case}", "qualifier": "project"}]
        if community is not None:
            related.append({"objectId": f"community:{community}", "qualifier": "community"})
        if organization is not None:
            related.append({"objectId": f"organization:{organization}", "qualifier": "organization"})
        kind_of_step = STEP_OBJECTS.get(step)
        if kind_of_step == "vote":
            # The tally closes its round; ballots before it belong to the round it closes.
            round_no = votes.get(case, 0) + (0 if activity_id == VOTE_TALLY_ACTIVITY else 1)
            related.append({"objectId": f"vote:{case}:{max(round_no, 1)}", "qualifier": activity_id})
        elif kind_of_step:
            related.append({"objectId": f"{kind_of_step}:{case}", "qualifier": activity_id})
        item = {"id": f"e{event_id}", "type": clean_text(name or activity_id), "time": f"{ts}Z",
                "attributes": [{"name": "activity_id", "value": activity_id},
                               {"name": "resource", "value": clean_text(resource or "")},
                               {"name": "role", "value": role or ""}, {"name": "step", "value": step or 0},
                               {"name": "seq", "value": seq or 0}],
                "relationships": related}
        yield ("" if first else ",") + dump(item, ensure_ascii=False)
        first = False
    yield "]}\n"


EXPORTS = {
    "xes": (iter_xes, "application/xml", ".xes"),
    "csv": (iter_csv, "text/csv", ".csv"),
    "ocel": (iter_ocel, "application/json", ".jsonocel"),
}


def check_format(fmt: str) -> None:
    """ValidationError naming the formats unless ``fmt`` is one of them."""
    if fmt not in EXPORTS:
        message = Text("Unknown format %(format)r; use one of %(formats)s.", format=fmt, formats=", ".join(EXPORTS))
        raise ValidationError(message, errors={"format": [message]})


def iter_export(session: Session, fmt: str, filters: LogFilter | None = None, progress: Progress | None = None) -> Iterator[str]:
    """Chunks of the export ``fmt`` (``xes``, ``csv`` or ``ocel``)."""
    check_format(fmt)
    return EXPORTS[fmt][0](session, filters, progress)


def write_export(session: Session, fmt: str, out: TextIO, filters: LogFilter | None = None, progress: Progress | None = None,
                 chunk: int = 1 << 16) -> int:
    """Write the export ``fmt`` to the text file object ``out``; returns characters written."""
    written, pending = 0, []
    size = 0
    for piece in iter_export(session, fmt, filters, progress):
        pending.append(piece)
        size += len(piece)
        if size >= chunk:
            out.write("".join(pending))
            written += size
            pending, size = [], 0
    out.write("".join(pending))
    return written + size


__all__ = ["count_events", "check_format", "iter_xes", "iter_csv", "iter_ocel", "iter_export", "write_export", "EXPORTS", "CSV_COLUMNS"]
