"""Cycle-time analytics over the event log: where projects wait, and for how long.

Every function takes a :class:`~engine.mining.logview.LogView` (see :func:`log_view`) and runs
SQL over its cases and activity-instance tables; :func:`cycle_time_report` builds the view
once and returns every section. Durations are in seconds (working seconds when the view
has a calendar). Distributions are ``{n, mean, median, p90, max, sum}`` (see
:mod:`engine.mining.distribution`).

Activity instances measure:

* waiting: schedule -> first assign or start,
* working: start -> complete (from the first assign, or the schedule, when a task was
  never explicitly started),
* total: schedule -> complete.
"""
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.core.calendar import WorkingCalendar
from engine.mining import models
from engine.mining.distribution import STATS, distribution, indexed, summary
from engine.mining.logview import LogFilter, LogView, log_view, ordered_concat_sql

Row = dict[str, Any]

# BPMN ids the rework figures count; the diagram contract names them.
REVISE_ACTIVITY = "revise_application"
VOTE_TALLY_ACTIVITY = "tally_votes"

WAITING = "a.c_pickup - a.c_sched"
WORKING = "a.c_done - COALESCE(a.c_start, a.c_pickup, a.c_sched)"
TOTAL = "a.c_done - COALESCE(a.c_sched, a.c_start, a.c_pickup)"
# The same durations as the mining table's indexes hold them (wall-clock seconds).
INDEXED = {"waiting": ("ix_mining_acts_waiting", f"({models.WAITING})"),
           "working": ("ix_mining_acts_working", f"({models.WORKING})"),
           "total": ("ix_mining_acts_total", f"({models.TOTAL})")}
# The order of a case's completions: by time, and within one time by the order the engine
# wrote them (the event sequence), never by name.
COMPLETION_ORDER = "t_done, seq_done, activity_id"


def activity_stats(view: LogView) -> list[Row]:
    """Per BPMN activity: completions, cancellations and waiting/working/total distributions."""
    carry = {"activity_name": ("a.activity_name", "MAX"), "activity_type": ("a.activity_type", "MAX"),
             "step": ("a.step", "MAX"), "role": ("a.role", "MAX"), "completed": ("a.t_done", "COUNT"),
             "cancelled": ("a.t_cancel", "COUNT")}
    if view.whole and view.dialect == "sqlite":
        rows = _indexed_activity_stats(view, carry)
    else:
        rows = distribution(view, "{acts} a", {"activity_id": "a.activity_id"},
                            {"waiting": WAITING, "working": WORKING, "total": TOTAL}, carry=carry)
    return sorted(rows, key=lambda r: (r["step"] is None, r["step"] or 0, r["activity_id"]))


def _indexed_activity_stats(view: LogView, carry: dict[str, tuple[str, str]]) -> list[Row]:
    """:func:`activity_stats` of the whole log, read from the indexes of each activity's durations."""
    # What the activity is (its name, type, step, role) is kept per activity; the counts are
    # read with the durations.
    counted = {name: f"COUNT({expr.removeprefix('a.')})" for name, (expr, aggregate) in carry.items()
               if aggregate == "COUNT"}
    found = indexed(view, "mining_acts", "activity_id", INDEXED, "ix_mining_acts_total", carry=counted)
    kept = [name for name in carry if name not in counted]
    about = {row[0]: dict(zip(kept, row[1:])) for row in view.tuples(
        f"SELECT activity_id, {', '.join(kept)} FROM mining_activities")}
    rows = []
    for activity_id, head in found.items():
        row = {"activity_id": activity_id, "rows": head["rows"],
               **{name: head[name] if name in counted else about[activity_id][name] for name in carry}}
        row.update({measure: head[measure] for measure in INDEXED})
        rows.append(row)
    return rows


def step_stats(view: LogView) -> list[Row]:
    """Per step (1-7): activity-instance distributions and the per-case span of the step.

    ``span`` is, per case, the time from the first schedule of a task of that step to the
    last completion in it (revision rounds make it long).
    """
    return _step_stats_in_one_read(view) if view.dialect == "sqlite" else _step_stats_in_sql(view)


def _step_stats_in_sql(view: LogView) -> list[Row]:
    """:func:`step_stats` grouped in SQL (PostgreSQL: its percentiles are aggregates)."""
    rows = distribution(view, "{acts} a", {"step": "a.step"},
                        {"waiting": WAITING, "working": WORKING, "total": TOTAL}, where="a.step IS NOT NULL")
    spans = distribution(
        view, """(SELECT instance_id, step, MAX(c_done) - MIN(COALESCE(c_sched, c_start, c_done)) AS span
                  FROM {acts} WHERE step IS NOT NULL GROUP BY instance_id, step HAVING MAX(c_done) IS NOT NULL) s""",
        {"step": "s.step"}, {"span": "s.span"})
    by_step = {s["step"]: s["span"] for s in spans}
    counts = {r["step"]: r for r in view.rows(
        "SELECT step, COUNT(t_done) AS completed, COUNT(DISTINCT instance_id) AS cases FROM {acts} "
        "WHERE step IS NOT NULL GROUP BY step")}
    for row in rows:
        row["span"] = by_step.get(row["step"], {stat: None for stat in STATS} | {"n": 0})
        row["completed"] = counts[row["step"]]["completed"]
        row["cases"] = counts[row["step"]]["cases"]
    return rows


def _step_stats_in_one_read(view: LogView) -> list[Row]:
    """:func:`step_stats` on SQLite: every act of a step read once, in no order, and folded here.

    The same figures as the SQL of the general path (which grouped the acts by case and step
    first: a sort of every act, and more than half the report's time at a million events).
    """
    steps: dict[Any, dict[str, Any]] = {}
    spans: dict[tuple[Any, Any], list[Any]] = {}  # (case, step): [first moment, last completion]
    for case, step, sched, pickup, start, done in view.tuples(
            "SELECT instance_id, step, c_sched, c_pickup, c_start, c_done FROM {acts} WHERE step IS NOT NULL"):
        found = steps.get(step)
        if found is None:
            found = steps[step] = {"rows": 0, "completed": 0, "cases": set(), "waiting": [], "working": [], "total": []}
        found["rows"] += 1
        found["cases"].add(case)
        if pickup is not None and sched is not None:
            found["waiting"].append(pickup - sched)
        first = sched if sched is not None else start if start is not None else done
        if done is not None:
            found["completed"] += 1
            began = start if start is not None else pickup if pickup is not None else sched
            if began is not None:
                found["working"].append(done - began)
            entered = sched if sched is not None else start if start is not None else pickup
            if entered is not None:
                found["total"].append(done - entered)
        span = spans.get((case, step))
        if span is None:
            spans[case, step] = [first, done]
        else:
            if first is not None and (span[0] is None or first < span[0]):
                span[0] = first
            if done is not None and (span[1] is None or done > span[1]):
                span[1] = done
    lengths: dict[Any, list[float]] = {}
    for (_case, step), (first, last) in spans.items():
        if last is not None:
            lengths.setdefault(step, []).append(last - first)
    return [{"step": step, "rows": found["rows"],
             **{measure: summary(found[measure]) for measure in ("waiting", "working", "total")},
             "span": summary(lengths.get(step, [])), "completed": found["completed"], "cases": len(found["cases"])}
            for step, found in sorted(steps.items())]


def case_durations(view: LogView, buckets: int = 10) -> dict[str, Any]:
    """Lead time of completed cases: its distribution, a histogram and status counts.

    The histogram has ``buckets`` equal-width bins from 0 to the longest lead time
    (``[lower, upper)`` seconds, the last one closed).
    """
    completed = "c.status = 'completed'"
    stats = distribution(view, "{cases} c", {}, {"lead": "c.c_end - c.c_start"}, where=completed)
    lead = stats[0]["lead"] if stats else {stat: None for stat in STATS} | {"n": 0}
    status = {r["status"]: r["cases"] for r in view.rows("SELECT status, COUNT(*) AS cases FROM {cases} GROUP BY status")}
    histogram = []
    if lead["n"]:
        width = max(float(lead["max"] or 0), 1.0) / buckets
        counts = {r["bucket"]: r["cases"] for r in view.rows(f"""
            SELECT CASE WHEN b >= {buckets} THEN {buckets - 1} ELSE b END AS bucket, COUNT(*) AS cases
            FROM (SELECT CAST((c.c_end - c.c_start) / :width AS INTEGER) AS b FROM {{cases}} c WHERE {completed}) s
            GROUP BY CASE WHEN b >= {buckets} THEN {buckets - 1} ELSE b END""", width=width)}
        histogram = [{"lower": i * width, "upper": (i + 1) * width, "cases": counts.get(i, 0)} for i in range(buckets)]
    return {"lead": lead, "histogram": histogram, "status": status}


def case_lead_times(view: LogView) -> dict[int, float]:
    """``{instance_id: lead seconds}`` for every completed case (small logs, tests, drill-down)."""
    return {r["instance_id"]: r["lead"] for r in view.rows(
        "SELECT instance_id, c_end - c_start AS lead FROM {cases} WHERE status = 'completed'")}


def rework(view: LogView, revise_activity: str = REVISE_ACTIVITY, vote_activity: str = VOTE_TALLY_ACTIVITY) -> dict[str, Any]:
    """Revision rounds (completions of ``revise_activity``) and re-votes (tallies after the first) per case."""
    per_case = """
        SELECT c.instance_id,
               SUM(CASE WHEN a.activity_id = :revise AND a.t_done IS NOT NULL THEN 1 ELSE 0 END) AS rounds,
               SUM(CASE WHEN a.activity_id = :vote AND a.t_done IS NOT NULL THEN 1 ELSE 0 END) AS votes
        FROM {cases} c LEFT JOIN {acts} a ON a.instance_id = c.instance_id GROUP BY c.instance_id"""
    params = {"revise": revise_activity, "vote": vote_activity}
    rounds = view.rows(f"SELECT rounds, COUNT(*) AS cases FROM ({per_case}) p GROUP BY rounds ORDER BY rounds", **params)
    totals = view.rows(f"""
        SELECT COUNT(*) AS cases, AVG(rounds * 1.0) AS mean_rounds, MAX(rounds) AS max_rounds,
               SUM(CASE WHEN votes > 1 THEN 1 ELSE 0 END) AS cases_with_revotes,
               SUM(CASE WHEN votes > 1 THEN votes - 1 ELSE 0 END) AS revotes
        FROM ({per_case}) p""", **params)[0]
    return {"rounds": [(r["rounds"], r["cases"]) for r in rounds], **totals,
            "revise_activity": revise_activity, "vote_activity": vote_activity}


def variants(view: LogView, limit: int = 20) -> dict[str, Any]:
    """Distinct sequences of completed activities of completed cases, most frequent first."""
    source = f"(SELECT a.instance_id, a.activity_id, a.t_done, a.seq_done FROM {view.acts} a JOIN {view.cases} c " \
             f"ON c.instance_id = a.instance_id WHERE c.status = 'completed' AND a.t_done IS NOT NULL) d"
    paths = ordered_concat_sql("activity_id", COMPLETION_ORDER, view.dialect, source)
    rows = view.rows(f"""
        SELECT p.path, COUNT(*) AS cases, AVG(c.c_end - c.c_start) AS mean_lead
        FROM ({paths}) p JOIN {{cases}} c ON c.instance_id = p.instance_id
        GROUP BY p.path ORDER BY COUNT(*) DESC, p.path LIMIT :limit""", limit=limit)
    total = view.rows("SELECT COUNT(*) AS n FROM {cases} WHERE status = 'completed'")[0]["n"] or 1
    count = view.rows(f"SELECT COUNT(DISTINCT path) AS n FROM ({paths}) p")[0]["n"]
    return {"count": count, "variants": [
        {"activities": r["path"].split("|"), "cases": r["cases"], "share": r["cases"] / total,
         "mean_lead": r["mean_lead"]} for r in rows]}


def _follows_sql(order: str = COMPLETION_ORDER) -> str:
    return f"""SELECT instance_id, activity_id AS source, c_done,
                      LEAD(activity_id) OVER (PARTITION BY instance_id ORDER BY {order}) AS target,
                      LEAD(c_done) OVER (PARTITION BY instance_id ORDER BY {order}) AS next_done
               FROM {{acts}} WHERE t_done IS NOT NULL"""


def directly_follows(view: LogView) -> list[Row]:
    """Directly-follows graph of completed activities (in completion order) with mean durations.

    Rows ``{source, target, count, mean, cases}``: ``count`` times a completion of
    ``source`` was the next one before ``target`` in a case, in ``cases`` distinct cases;
    ``mean`` seconds between the two.
    """
    if view.whole:
        # Each completion keeps the one before it in its case (see engine.mining.fold): the
        # graph is its edges counted, read from their index on SQLite.
        if view.dialect == "sqlite":
            # In the index's order: COUNT(DISTINCT) sees each edge's cases one after another.
            found = view.tuples("""SELECT prev_activity, activity_id, COUNT(*), SUM(t_done - t_prev),
                                            COUNT(DISTINCT instance_id)
                                     FROM mining_acts INDEXED BY ix_mining_acts_follows
                                     WHERE prev_activity IS NOT NULL GROUP BY prev_activity, activity_id""")
        else:
            # Hashed per edge and case, then per edge: PostgreSQL sorts for COUNT(DISTINCT).
            found = view.tuples("""SELECT prev_activity, activity_id, CAST(SUM(n) AS BIGINT), SUM(gaps), COUNT(*)
                                     FROM (SELECT prev_activity, activity_id, COUNT(*) AS n,
                                                  SUM(t_done - t_prev) AS gaps
                                           FROM mining_acts WHERE prev_activity IS NOT NULL
                                           GROUP BY prev_activity, activity_id, instance_id) e
                                     GROUP BY prev_activity, activity_id""")
        return [{"source": s, "target": t, "count": count, "mean": total / count, "cases": cases}
                for s, t, count, total, cases in sorted(found)]
    # One ordered read folded in Python: the mining table's index already holds each case's
    # completions in this order, so nothing is sorted; pairing the rows with a window and
    # grouping the pairs (a sort of every pair, and one more for the distinct cases) cost
    # twice as much at a million events.
    order = ", ".join(f"a.{column.strip()}" for column in COMPLETION_ORDER.split(","))
    completions = view.tuples(f"SELECT a.instance_id, a.activity_id, a.c_done FROM {{acts}} a "
                              f"WHERE a.t_done IS NOT NULL ORDER BY a.instance_id, {order}")
    edges: dict[tuple[Any, Any], list[Any]] = {}  # (source, target): [count, sum of gaps, last case, cases]
    case = source = done = None
    for instance_id, activity_id, c_done in completions:
        if instance_id == case:
            edge = edges.get((source, activity_id))
            if edge is None:
                edges[source, activity_id] = [1, c_done - done, instance_id, 1]
            else:
                edge[0] += 1
                edge[1] += c_done - done
                if edge[2] != instance_id:
                    edge[2] = instance_id
                    edge[3] += 1
        case, source, done = instance_id, activity_id, c_done
    return [{"source": s, "target": t, "count": count, "mean": total / count, "cases": cases}
            for (s, t), (count, total, _case, cases) in sorted(edges.items())]


def edge_cases(view: LogView, source: str, target: str, limit: int = 200) -> list[Row]:
    """The cases in which ``target`` directly followed ``source``: id, title, status, times and gap."""
    return view.rows(f"""
        WITH d AS ({_follows_sql()})
        SELECT c.instance_id, c.title, c.status, COUNT(*) AS times, AVG(d.next_done - d.c_done) AS mean
        FROM d JOIN {{cases}} c ON c.instance_id = d.instance_id
        WHERE d.source = :source AND d.target = :target
        GROUP BY c.instance_id, c.title, c.status ORDER BY c.instance_id LIMIT :limit""",
        source=source, target=target, limit=limit)


def slowest_cases(view: LogView, limit: int = 10) -> list[Row]:
    """The cases with the longest lead time (running cases count their age so far)."""
    return view.rows(f"""
        SELECT c.instance_id, c.title, c.status, c.definition_key, c.definition_version,
               c.community_id, c.organization_id, c.t_start, c.t_end,
               COALESCE(c.c_end, {view.c_now!r}) - c.c_start AS lead,
               (SELECT COUNT(*) FROM {{acts}} a WHERE a.instance_id = c.instance_id
                  AND a.activity_id = :revise AND a.t_done IS NOT NULL) AS rounds
        FROM {{cases}} c WHERE c.status <> 'cancelled'
        ORDER BY lead DESC, c.instance_id LIMIT :limit""", limit=limit, revise=REVISE_ACTIVITY)


def case_timeline(view: LogView, instance_id: int) -> list[Row]:
    """The activity instances of one case, in order, with their durations (drill-down)."""
    return view.rows(f"""
        SELECT a.task_id, a.activity_id, a.activity_name, a.activity_type, a.step, a.role, a.resource,
               a.t_sched, a.t_start, a.t_done, a.t_cancel,
               {WAITING} AS waiting, {WORKING} AS working, {TOTAL} AS total
        FROM {{acts}} a WHERE a.instance_id = :instance_id
        ORDER BY COALESCE(a.t_sched, a.t_start, a.t_done, a.t_cancel), a.seq_first, a.activity_id""",
        instance_id=instance_id)


def bottlenecks(activities: list[Row], limit: int = 10) -> list[Row]:
    """Activities ranked by the time cases spent waiting for them (then working on them)."""
    all_waiting = sum(a["waiting"]["sum"] or 0 for a in activities) or 1.0
    ranked = sorted(activities, key=lambda a: (-(a["waiting"]["sum"] or 0), -(a["working"]["sum"] or 0), a["activity_id"]))
    return [{"activity_id": a["activity_id"], "activity_name": a["activity_name"], "step": a["step"],
             "role": a["role"], "waiting_sum": a["waiting"]["sum"] or 0, "waiting_mean": a["waiting"]["mean"],
             "working_mean": a["working"]["mean"], "share": (a["waiting"]["sum"] or 0) / all_waiting}
            for a in ranked[:limit] if (a["waiting"]["sum"] or 0) or (a["working"]["sum"] or 0)]


def running_ages(view: LogView) -> list[Row]:
    """Running cases by the step they are in now: how many, their age, and time in that step."""
    current = f"""
        SELECT o.instance_id, o.step, o.since, ROW_NUMBER() OVER (PARTITION BY o.instance_id ORDER BY o.step DESC) AS pick
        FROM (SELECT a.instance_id, a.step, MIN(COALESCE(a.c_sched, a.c_start)) AS since
              FROM {view.acts} a JOIN {view.cases} c ON c.instance_id = a.instance_id
              WHERE c.status = 'running' AND a.t_done IS NULL AND a.t_cancel IS NULL AND a.step IS NOT NULL
              GROUP BY a.instance_id, a.step) o"""
    source = f"({current}) s JOIN {view.cases} c ON c.instance_id = s.instance_id"
    now = repr(view.c_now)
    return distribution(view, source, {"step": "s.step"},
                        {"age": f"{now} - c.c_start", "in_step": f"{now} - s.since"}, where="s.pick = 1")


def cycle_time_report(session: Session, filters: LogFilter | None = None, calendar: WorkingCalendar | None = None,
                      now: datetime | None = None, limit: int = 10) -> dict[str, Any]:
    """Every section of the cycle-time report for the cases ``filters`` selects."""
    filters = filters or LogFilter()
    with log_view(session, filters, calendar, now) as view:
        activities = activity_stats(view)
        return {
            "filters": filters.describe(), "working_days": calendar is not None, "now": view.now,
            "cases": case_durations(view),
            "activities": activities,
            "steps": step_stats(view),
            "bottlenecks": bottlenecks(activities, limit),
            "rework": rework(view),
            "variants": variants(view, limit),
            "directly_follows": directly_follows(view),
            "slowest": slowest_cases(view, limit),
            "running": running_ages(view),
        }


__all__ = [
    "LogFilter", "log_view", "distribution", "activity_stats", "step_stats", "case_durations",
    "case_lead_times", "rework", "variants", "directly_follows", "edge_cases", "slowest_cases", "case_timeline",
    "bottlenecks", "running_ages", "cycle_time_report",
]
