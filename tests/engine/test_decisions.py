"""On-time rates, comparisons and expected completion dates on logs with known figures."""
from pathlib import Path

import pytest

from engine.core.db import unit_of_work
from engine.errors import ValidationError
from engine.mining.decisions import compare, due_periods, estimate_completion, expected_completion, on_time
from engine.mining.logview import epoch_of, log_view
from tests.engine.mining_log import HOUR, NOW, T0, mining_db  # noqa: F401 (fixture)

DAY = 24 * HOUR
DIAGRAM = Path(__file__).resolve().parents[2] / "processes" / "seven_step_project.bpmn"


@pytest.fixture
def view(mining_db):
    with unit_of_work(mining_db, readonly=True) as session, log_view(session, now=NOW) as v:
        yield v


def test_estimate_is_the_median_of_finished_cases_with_their_spread():
    history = [10 * DAY, 20 * DAY, 30 * DAY, 40 * DAY, 50 * DAY]
    estimate = estimate_completion(history, since=0, now=DAY)
    assert estimate is not None
    assert (estimate.expected, estimate.low, estimate.high, estimate.basis) == (30 * DAY, 14 * DAY, 46 * DAY, 5)


def test_a_late_case_is_compared_with_the_slow_ones_only():
    history = [d * DAY for d in (5, 6, 7, 8, 60, 70, 80, 90, 100)]
    # 30 days in the step already: only the five cases that took longer than that count.
    estimate = estimate_completion(history, since=0, now=30 * DAY)
    assert estimate is not None and estimate.basis == 5
    assert estimate.expected == 80 * DAY and estimate.low == 64 * DAY and estimate.high == 96 * DAY


def test_too_few_alike_falls_back_to_all_and_never_promises_the_past():
    history = [d * DAY for d in (5, 6, 7, 8, 9, 200)]
    estimate = estimate_completion(history, since=0, now=100 * DAY)
    assert estimate is not None and estimate.basis == 6
    assert estimate.expected == 100 * DAY and estimate.low == 100 * DAY  # not before today
    assert estimate.high > 100 * DAY
    assert estimate_completion([], since=0, now=DAY) is None


def test_due_periods_come_from_the_diagram():
    due = due_periods(DIAGRAM.read_text(encoding="utf-8"))
    assert due["cast_ballot"] == 7 * DAY
    assert len(due) >= 10 and all(seconds > 0 for seconds in due.values())


def test_on_time_rate_per_step(view):
    # write (wait+work 48 h, 120 h), meeting (4, 2, 2 h), revise 48 h, tally (1, 1, 2 h)
    rates = on_time(view, {"write_application": 72 * HOUR, "consultation_meeting": 3 * HOUR})
    assert (rates[2]["due_n"], rates[2]["on_time"]) == (2, 1)
    assert (rates[3]["due_n"], rates[3]["on_time"], rates[3]["rate"]) == (3, 2, pytest.approx(2 / 3))
    assert 4 not in rates  # no due period on the tally


def test_compare_by_community_and_year(view):
    by_community = {r["key"]: r for r in compare(view, "community")}
    assert (by_community[1]["cases"], by_community[1]["completed"], by_community[1]["running"]) == (2, 1, 1)
    assert by_community[1]["lead_mean"] == 103 * HOUR and by_community[1]["rounds_mean"] == 0.5
    assert (by_community[2]["completed"], by_community[2]["cancelled"]) == (1, 1)
    by_year = compare(view, "year")
    assert [(r["key"], r["cases"]) for r in by_year] == [(2024, 4)]
    with pytest.raises(ValidationError):
        compare(view, "colour")


def test_running_case_gets_an_expected_completion(view):
    (row,) = expected_completion(view)
    assert (row["instance_id"], row["step"], row["basis"]) == (3, 2, 2)
    # In step 2 for 152 h, longer than both finished cases took from there: expected now, not in the past.
    assert row["expected"] == epoch_of(NOW) and row["since"] == epoch_of(T0) + 48 * HOUR
