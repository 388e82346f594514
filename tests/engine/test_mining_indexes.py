"""The whole log's report read from the mining table's indexes equals the report read row by row.

Unfiltered reports on wall-clock time read each activity's durations from their indexes and
the directly-follows graph from the edges kept at write time; these must give exactly the
figures of the general path (the one every filtered or working-day report takes), however
the events arrived: in order, out of order, or a task completed twice.
"""
import dataclasses
import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from engine.core.db import make_engine, make_session_factory, unit_of_work, upgrade_schema
from engine.core.calendar import WorkingCalendar
from engine.mining.cycle_times import (_step_stats_in_one_read, _step_stats_in_sql, activity_stats, directly_follows,
                                      log_view)
from engine.mining.fold import fold_events, rebuild
from engine.mining.logview import LogFilter
from tests.engine.tied_log import NOW, tied_db  # noqa: F401 (fixture)


def both_ways(session, **kwargs):
    """(indexed, row by row) activity statistics and graph of the unfiltered view."""
    with log_view(session, now=NOW, **kwargs) as view:
        general = dataclasses.replace(view, whole=False)
        return ((activity_stats(view), directly_follows(view), view.whole),
                (activity_stats(general), directly_follows(general)))


def flat(value, path=""):
    """``{path: leaf}`` of nested lists and dicts (pytest.approx compares flat collections only)."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flat(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for index, item in enumerate(value) for k, v in flat(item, f"{path}[{index}]").items()}
    return {path: value}


def assert_same(indexed, general):
    # Sums differ in the last bits only: the general path adds the sorted values exactly.
    ours, theirs = flat(indexed), flat(general)
    assert ours.keys() == theirs.keys()
    numbers = {k for k, v in theirs.items() if isinstance(v, float)}
    assert {k: ours[k] for k in numbers} == pytest.approx({k: theirs[k] for k in numbers}, rel=1e-12, abs=1e-9)
    assert {k: v for k, v in ours.items() if k not in numbers} == {k: v for k, v in theirs.items() if k not in numbers}


def test_the_whole_log_read_from_indexes_equals_the_general_report(tied_db):
    with unit_of_work(tied_db, readonly=True) as session:
        (stats, edges, whole), (stats_general, edges_general) = both_ways(session)
    assert whole, "an unfiltered wall-clock view reads the indexes"
    assert len(stats) > 5 and len(edges) > 8
    assert any(a["waiting"]["n"] > 2 and a["waiting"]["median"] != a["waiting"]["mean"] for a in stats)
    assert_same(stats, stats_general)
    assert_same(edges, edges_general)


def test_filtered_views_read_row_by_row_unless_the_filter_leaves_nothing_out(tied_db):
    with unit_of_work(tied_db, readonly=True) as session:
        with log_view(session, LogFilter(town_id=1), now=NOW) as view:
            assert not view.whole
        # Every case of the log runs this process: the dashboard's filter selects everything.
        with log_view(session, LogFilter(process="seven_step_project"), now=NOW) as view:
            assert view.whole
        (stats, edges, whole), (stats_general, edges_general) = both_ways(session)
        with log_view(session, LogFilter(process="seven_step_project"), now=NOW) as view:
            assert activity_stats(view) == stats and directly_follows(view) == edges
        with log_view(session, LogFilter(process="another_process"), now=NOW) as view:
            assert not view.whole and activity_stats(view) == [] and directly_follows(view) == []


EPOCH = datetime(2026, 3, 2, 8)


def event(number, instance_id, task, activity, transition, minutes, seq):
    return {"id": number, "ts": EPOCH + timedelta(minutes=minutes), "instance_id": instance_id,
            "definition_key": "p", "definition_version": 1, "task_id": task, "activity_id": activity,
            "activity_name": activity, "activity_type": "instance" if task is None else "userTask",
            "transition": transition, "resource": "someone", "role": "r", "step": 1, "town_id": 1,
            "community_id": 1, "organization_id": 1, "seq": seq}


def a_log(rng):
    """Three cases of tasks with tied completions, loops and one task completed twice."""
    rows, number = [], 0
    for case in (1, 2, 3):
        seq, minutes = 0, case * 10.0
        for kind in ("start",):
            number += 1
            seq += 1
            rows.append(event(number, case, None, "instance", kind, minutes, seq))
        activities = {}
        for index in range(12):
            task, activity = f"{case}-{index}", rng.choice("abcd")
            activities[task] = activity
            for transition in ("schedule", "start", "complete"):
                number += 1
                seq += 1
                minutes += rng.choice([0, 0, 5, 30])  # many ties
                rows.append(event(number, case, task, activity, transition, minutes, seq))
        number += 1
        seq += 1
        rows.append(event(number, case, f"{case}-3", activities[f"{case}-3"], "complete", minutes + 60, seq))  # completed again
    return rows


@pytest.fixture
def empty_db(db_url):
    engine = make_engine(db_url)
    upgrade_schema(engine)
    yield make_session_factory(engine)
    engine.dispose()


def test_edges_kept_at_write_time_equal_a_rebuild_however_events_arrive(empty_db):
    rows = a_log(random.Random(4))
    with unit_of_work(empty_db) as session:
        session.execute(text(f"INSERT INTO events ({', '.join(rows[0])}) VALUES ({', '.join(f':{c}' for c in rows[0])})"),
                        rows)
        rebuild(session)
        expected = edges_of(session)
        batches = [rows[i:i + 5] for i in range(0, len(rows), 5)]
        for seed in (None, 7, 8, 9):  # in order, then batches shuffled (later steps before earlier ones)
            session.execute(text("DELETE FROM mining_acts"))
            session.execute(text("DELETE FROM mining_cases"))
            if seed is not None:
                random.Random(seed).shuffle(batches)
            for batch in batches:
                fold_events(session, batch, [r["id"] for r in batch])
            assert edges_of(session) == expected, f"batches in order {seed}"
            (stats, edges, whole), (stats_general, edges_general) = both_ways(session)
            assert whole and len(edges) > 5
            assert_same(stats, stats_general)
            assert_same(edges, edges_general)
    assert sum(1 for r in expected if r[1] is not None) == 3 * 12 - 3  # every completion but each case's first


def edges_of(session):
    return [tuple(r) for r in session.execute(text(
        "SELECT task_id, prev_activity, t_prev FROM mining_acts ORDER BY task_id"))]


def test_step_figures_read_once_equal_the_grouped_sql(tied_db):
    with unit_of_work(tied_db, readonly=True) as session:
        for filters, calendar in ((LogFilter(), None), (LogFilter(town_id=1), None), (LogFilter(), WorkingCalendar())):
            with log_view(session, filters, calendar, now=NOW) as view:
                if view.dialect != "sqlite":
                    pytest.skip("PostgreSQL groups in SQL")
                folded, grouped = _step_stats_in_one_read(view), _step_stats_in_sql(view)
            assert len(folded) >= 4 and any(row["span"]["n"] for row in folded)
            assert_same(folded, grouped)
