"""Cycle-time analytics on a log whose durations are known (see mining_log.py)."""
from datetime import date

import pytest

from engine.core.calendar import WorkingCalendar
from engine.core.db import unit_of_work
from engine.mining.cycle_times import (
    LogFilter, activity_stats, case_durations, case_lead_times, case_timeline, cycle_time_report,
    directly_follows, log_view, rework, running_ages, slowest_cases, step_stats, variants,
)
from tests.engine.mining_log import HOUR, NOW, mining_db  # noqa: F401 (fixture)


def hours(value):
    return None if value is None else round(value / HOUR, 6)


def dist_hours(d):
    return {k: hours(v) if k not in ("n",) else v for k, v in d.items() if k != "sum"}


@pytest.fixture
def view(mining_db):
    with unit_of_work(mining_db, readonly=True) as session, log_view(session, now=NOW) as v:
        yield v


def test_activity_waiting_working_and_total_times(view):
    stats = {a["activity_id"]: a for a in activity_stats(view)}
    write = stats["write_application"]
    assert (write["completed"], write["cancelled"], write["step"], write["role"]) == (2, 1, 2, "social_organization")
    assert dist_hours(write["waiting"]) == {"n": 2, "mean": 48, "median": 48, "p90": 67.2, "max": 72}
    assert dist_hours(write["working"]) == {"n": 2, "mean": 36, "median": 36, "p90": 45.6, "max": 48}
    assert dist_hours(write["total"]) == {"n": 2, "mean": 84, "median": 84, "p90": 112.8, "max": 120}
    meeting = stats["consultation_meeting"]
    assert dist_hours(meeting["waiting"]) == {"n": 3, "mean": round(4 / 3, 6), "median": 1, "p90": 1.8, "max": 2}
    assert dist_hours(stats["tally_votes"]["working"])["median"] == 1
    assert stats["tally_votes"]["completed"] == 3


def test_step_times_and_the_span_of_each_step_per_case(view):
    steps = {s["step"]: s for s in step_stats(view)}
    assert sorted(steps) == [2, 3, 4]
    assert dist_hours(steps[3]["waiting"])["median"] == 1.5  # waits 1, 1, 2, 24
    # Step 3 of case 1 runs from the first meeting (48) to the second one's end (102): revision makes it long.
    assert dist_hours(steps[3]["span"]) == {"n": 2, "mean": 28, "median": 28, "p90": 48.8, "max": 54}
    assert steps[3]["cases"] == 2 and steps[4]["completed"] == 3


def test_case_lead_times_histogram_and_status(view):
    result = case_durations(view, buckets=5)
    assert dist_hours(result["lead"]) == {"n": 2, "mean": 114, "median": 114, "p90": 122.8, "max": 125}
    assert result["status"] == {"completed": 2, "running": 1, "cancelled": 1}
    assert [b["cases"] for b in result["histogram"]] == [0, 0, 0, 0, 2]
    assert {k: hours(v) for k, v in case_lead_times(view).items()} == {1: 103, 2: 125}


def test_rework_counts_revision_rounds_and_revotes(view):
    result = rework(view)
    assert result["rounds"] == [(0, 3), (1, 1)]
    assert (result["cases_with_revotes"], result["revotes"], result["max_rounds"]) == (1, 1, 1)


def test_variants_with_frequency_and_mean_lead_time(view):
    result = variants(view)
    assert result["count"] == 2
    paths = {tuple(v["activities"]): (v["cases"], hours(v["mean_lead"])) for v in result["variants"]}
    assert paths == {
        ("write_application", "consultation_meeting", "revise_application", "consultation_meeting", "tally_votes"): (1, 103),
        ("write_application", "consultation_meeting", "tally_votes", "tally_votes"): (1, 125),
    }


def test_directly_follows_graph_with_mean_durations(view):
    edges = {(e["source"], e["target"]): (e["count"], hours(e["mean"])) for e in directly_follows(view)}
    assert edges == {
        ("write_application", "consultation_meeting"): (2, 3),
        ("consultation_meeting", "revise_application"): (1, 48),
        ("revise_application", "consultation_meeting"): (1, 2),
        ("consultation_meeting", "tally_votes"): (2, 1),
        ("tally_votes", "tally_votes"): (1, 2),
    }


def test_slowest_cases_running_ages_and_drill_down(view):
    slowest = slowest_cases(view, limit=2)
    assert [(c["instance_id"], c["status"], hours(c["lead"])) for c in slowest] == [(3, "running", 152), (2, "completed", 125)]
    running = running_ages(view)
    assert [(r["step"], r["age"]["n"], hours(r["age"]["max"]), hours(r["in_step"]["max"])) for r in running] == [(2, 1, 152, 152)]
    timeline = case_timeline(view, 1)
    assert [(t["activity_id"], hours(t["waiting"]), hours(t["working"])) for t in timeline] == [
        ("write_application", 24, 24), ("consultation_meeting", 2, 2), ("revise_application", 24, 24),
        ("consultation_meeting", 1, 1), ("tally_votes", 0, 1)]


@pytest.mark.parametrize("filters, cases", [
    (LogFilter(community_id=1), {1: 103}),
    (LogFilter(version=2), {2: 125}),
    (LogFilter(process="other"), {}),
    (LogFilter(since=date(2024, 1, 1), until=date(2024, 1, 2)), {1: 103}),
    (LogFilter(organization_id=11, town_id=100), {2: 125}),
])
def test_filters_select_cases(mining_db, filters, cases):
    with unit_of_work(mining_db, readonly=True) as session, log_view(session, filters, now=NOW) as v:
        assert {k: hours(x) for k, x in case_lead_times(v).items()} == cases
        assert sum(a["completed"] for a in activity_stats(v)) == {(): 0, (1,): 5, (2,): 4}[tuple(cases)]


def test_working_day_calendar_skips_weekends_and_holidays(mining_db):
    calendar = WorkingCalendar(holidays=frozenset({date(2024, 1, 2)}))
    with unit_of_work(mining_db, readonly=True) as session:
        report = cycle_time_report(session, calendar=calendar, now=NOW)
    # Case 1 (Mon 00:00 -> Fri 07:00) loses Tuesday: 79 h; case 2 (Tue 00:00 -> Sun 05:00) keeps Wed-Fri: 72 h.
    assert report["working_days"] is True
    assert dist_hours(report["cases"]["lead"]) == {"n": 2, "mean": 75.5, "median": 75.5, "p90": 78.3, "max": 79}
    write = next(a for a in report["activities"] if a["activity_id"] == "write_application")
    # Waits: Mon 00:00 -> Tue 00:00 (24 h) and Tue 00:00 -> Fri 00:00 (Wed and Thu, 48 h).
    assert dist_hours(write["waiting"]) == {"n": 2, "mean": 36, "median": 36, "p90": 45.6, "max": 48}
    # Mon 08:00 -> Sat 08:00: 16 h on Monday, none on the holiday, 72 h Wednesday to Friday.
    assert calendar.working_seconds(NOW.replace(day=1), NOW.replace(day=6)) / HOUR == 88


def test_report_has_every_section(mining_db):
    with unit_of_work(mining_db, readonly=True) as session:
        report = cycle_time_report(session, now=NOW)
    assert report["bottlenecks"][0]["activity_id"] == "write_application"
    assert report["rework"]["cases"] == 4 and report["variants"]["count"] == 2
    assert {"cases", "activities", "steps", "directly_follows", "slowest", "running"} <= set(report)
