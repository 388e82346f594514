"""Figures for the people who decide: on-time rates, comparisons across places and years,
and when running projects can be expected to finish.

Every function takes a :class:`~engine.mining.logview.LogView`. Times of day are wall-clock
epoch seconds (``t_*``): a task's due date is set in calendar time (``dueIn`` of the
diagram, e.g. ``P7D``), and an expected completion is a date.
"""
import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree as ET

from engine.core import spiff
from engine.core.calendar import EPOCH
from engine.errors import Text, ValidationError
from engine.mining.cycle_times import REVISE_ACTIVITY
from engine.mining.logview import LogView, epoch_of, log_view

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
COMPARE_BY = ("town", "community", "organization", "year")
MIN_HISTORY = 5  # finished cases an estimate needs before it narrows to the similar ones


def due_periods(bpmn_xml: str) -> dict[str, float]:
    """``{activity id: seconds}`` of every task whose diagram sets a ``dueIn`` period."""
    periods = {}
    for element in ET.fromstring(bpmn_xml.encode("utf-8")).iter():
        for prop in element.iter(f"{{{SPIFF_NS}}}property"):
            if prop.get("name") == "dueIn" and element.get("id") and prop.get("value"):
                due = spiff.duration_from(prop.get("value"), EPOCH)
                if due is not None:
                    periods.setdefault(element.get("id"), (due - EPOCH).total_seconds())
    return periods


def _due_sql(due: dict[str, float]) -> str:
    if not due:
        return "NULL"
    branches = " ".join(f"WHEN '{activity.replace(chr(39), '')}' THEN {seconds!r}" for activity, seconds in due.items())
    return f"(CASE a.activity_id {branches} END)"


def on_time(view: LogView, due: dict[str, float]) -> dict[int, dict[str, Any]]:
    """Per step: completed tasks that had a due period, how many were done within it, the rate."""
    due_sql = _due_sql(due)
    rows = view.rows(f"""
        SELECT a.step, COUNT(*) AS due_n,
               SUM(CASE WHEN a.t_done - COALESCE(a.t_sched, a.t_start, a.t_done) <= {due_sql} THEN 1 ELSE 0 END)
               AS on_time
        FROM {{acts}} a WHERE a.t_done IS NOT NULL AND a.step IS NOT NULL AND {due_sql} IS NOT NULL
        GROUP BY a.step ORDER BY a.step""")
    return {r["step"]: {**r, "rate": (r["on_time"] or 0) / r["due_n"] if r["due_n"] else None} for r in rows}


def _quantile(values: list[float], q: float) -> float:
    """Linear interpolation between ranks (numpy's default), as the reports' percentiles."""
    return _ranked(sorted(values), q)


def _ranked(ordered: Sequence[float], q: float) -> float:
    """:func:`_quantile` of values already in order."""
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _year(epoch_seconds: float) -> int:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).year


def compare(view: LogView, by: str, due: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Cases grouped by ``town``, ``community``, ``organization`` or ``year`` (of the start).

    Per group: cases by status, lead time of completed ones (mean, median), revision rounds
    per case, and the share of due tasks done on time.
    """
    if by not in COMPARE_BY:
        message = Text("Projects can be compared by %(choices)s, not %(by)r.", choices=", ".join(COMPARE_BY), by=by)
        raise ValidationError(message, errors={"by": [message]})
    due_sql = _due_sql(due or {})
    rows = view.rows(f"""
        SELECT c.instance_id, c.town_id, c.community_id, c.organization_id, c.t_start, c.status,
               c.c_end - c.c_start AS lead,
               SUM(CASE WHEN a.activity_id = :revise AND a.t_done IS NOT NULL THEN 1 ELSE 0 END) AS rounds,
               SUM(CASE WHEN a.t_done IS NOT NULL AND {due_sql} IS NOT NULL THEN 1 ELSE 0 END) AS due_n,
               SUM(CASE WHEN a.t_done - COALESCE(a.t_sched, a.t_start, a.t_done) <= {due_sql} THEN 1 ELSE 0 END)
               AS on_time
        FROM {{cases}} c LEFT JOIN {{acts}} a ON a.instance_id = c.instance_id
        GROUP BY c.instance_id, c.town_id, c.community_id, c.organization_id, c.t_start, c.status, c.c_end, c.c_start""",
        revise=REVISE_ACTIVITY)
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        key = _year(row["t_start"]) if by == "year" else row[f"{by}_id"]
        groups[key].append(row)
    out = []
    for key, members in groups.items():
        leads = [m["lead"] for m in members if m["status"] == "completed" and m["lead"] is not None]
        due_n = sum(m["due_n"] or 0 for m in members)
        out.append({
            "key": key, "cases": len(members),
            "completed": sum(m["status"] == "completed" for m in members),
            "running": sum(m["status"] == "running" for m in members),
            "cancelled": sum(m["status"] == "cancelled" for m in members),
            "lead_mean": statistics.fmean(leads) if leads else None,
            "lead_median": statistics.median(leads) if leads else None,
            "rounds_mean": statistics.fmean([m["rounds"] or 0 for m in members]),
            "on_time_rate": sum(m["on_time"] or 0 for m in members) / due_n if due_n else None,
        })
    return sorted(out, key=lambda r: (r["key"] is None, r["key"] if r["key"] is not None else 0))


@dataclass(frozen=True)
class Estimate:
    """When a running case can be expected to finish: median, and the 10th-90th percentile range."""

    expected: float
    low: float
    high: float
    basis: int  # finished cases the estimate rests on


def estimate_completion(remaining: list[float], since: float, now: float,
                        min_history: int = MIN_HISTORY) -> Estimate | None:
    """Completion of a case that entered its current step at ``since``, from finished cases.

    ``remaining`` holds, for each finished case that went through the same step, the time
    from entering it to the end of the case. A case already in the step for longer than
    some of them is compared only with those that took at least as long (when at least
    ``min_history`` did), so a late case is not promised an end in the past. No estimate
    without history; every date is at least ``now``.
    """
    if not remaining:
        return None
    elapsed = now - since
    ordered = sorted(remaining)  # linear when the history comes in order (expected_completion)
    alike = ordered[bisect_left(ordered, elapsed):]
    sample = alike if len(alike) >= min_history else ordered
    return Estimate(expected=max(now, since + _ranked(sample, 0.5)), low=max(now, since + _ranked(sample, 0.1)),
                    high=max(now, since + _ranked(sample, 0.9)), basis=len(sample))


def expected_completion(view: LogView, limit: int | None = None) -> list[dict[str, Any]]:
    """Running cases with the step they are in and their expected completion (see :func:`estimate_completion`).

    Rows ``{instance_id, title, step, since, expected, low, high, basis}`` (epoch seconds;
    ``expected`` is None without history), soonest first.
    """
    entries = view.tuples("""
        SELECT a.instance_id, a.step, MIN(COALESCE(a.t_sched, a.t_start, a.t_done)) AS entered
        FROM {acts} a JOIN {cases} c ON c.instance_id = a.instance_id
        WHERE c.status = 'completed' AND a.step IS NOT NULL GROUP BY a.instance_id, a.step""")
    ends = dict(view.tuples("SELECT instance_id, t_end FROM {cases} WHERE status = 'completed'"))
    history: dict[int, list[float]] = defaultdict(list)
    for instance_id, step, entered in entries:
        history[step].append(ends[instance_id] - entered)
    for remaining in history.values():
        remaining.sort()
    running = view.rows("""
        SELECT c.instance_id, c.title, c.t_start, a.step, MIN(COALESCE(a.t_sched, a.t_start)) AS since
        FROM {cases} c JOIN {acts} a ON a.instance_id = c.instance_id
        WHERE c.status = 'running' AND a.t_done IS NULL AND a.t_cancel IS NULL AND a.step IS NOT NULL
        GROUP BY c.instance_id, c.title, c.t_start, a.step""")
    current: dict[int, dict[str, Any]] = {}
    for row in running:  # the furthest step a case has open work in
        if row["instance_id"] not in current or row["step"] > current[row["instance_id"]]["step"]:
            current[row["instance_id"]] = row
    now = epoch_of(view.now)
    out = []
    for case in current.values():
        estimate = estimate_completion(history.get(case["step"], []), case["since"], now)
        out.append({"instance_id": case["instance_id"], "title": case["title"], "step": case["step"],
                    "started": case["t_start"], "since": case["since"],
                    "expected": estimate.expected if estimate else None, "low": estimate.low if estimate else None,
                    "high": estimate.high if estimate else None, "basis": estimate.basis if estimate else 0})
    out.sort(key=lambda r: (r["expected"] is None, r["expected"] or 0, r["instance_id"]))
    return out[:limit] if limit else out


def decision_report(session: Any, filters: Any, due: dict[str, float], by: str = "town", now: Any = None,
                    limit: int = 50) -> dict[str, Any]:
    """On-time rates per step, the comparison ``by`` a dimension, and expected completions, in one view."""
    with log_view(session, filters, now=now) as view:
        return {"by": by, "on_time": on_time(view, due), "compare": compare(view, by, due),
                "expected": expected_completion(view, limit)}


__all__ = ["due_periods", "on_time", "compare", "COMPARE_BY", "Estimate", "estimate_completion", "expected_completion",
           "decision_report"]
