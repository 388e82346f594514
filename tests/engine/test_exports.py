"""Exports that PM4Py reads back with the same case durations and activity counts as Sanshe's."""
import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import date

import pandas as pd
import pytest

from engine.core.db import unit_of_work
from engine.errors import ValidationError
from engine.mining.exports import count_events, iter_export, write_export
from engine.mining.cycle_times import LogFilter, activity_stats, case_lead_times, log_view
from tests.engine.mining_log import NAMES, NOW, event_rows, mining_db  # noqa: F401 (fixture)

pm4py = pytest.importorskip("pm4py")
from pm4py.statistics.traces.generic.pandas import case_statistics  # noqa: E402
from pm4py.util import constants as pm4py_constants  # noqa: E402

# PM4Py's own advice (install an optional fast reader) would fail the run: warnings are errors.
pm4py_constants.SHOW_INTERNAL_WARNINGS = False


def sanshe_figures(session_factory):
    """Sanshe's own lead times (by case id string) and completion counts (by activity name)."""
    with unit_of_work(session_factory, readonly=True) as session, log_view(session, now=NOW) as view:
        leads = {str(k): v for k, v in case_lead_times(view).items()}
        counts = {a["activity_name"]: a["completed"] for a in activity_stats(view)}
    return leads, counts


def export(session_factory, fmt, path, filters=None):
    calls = []
    with unit_of_work(session_factory, readonly=True) as session, open(path, "w", encoding="utf-8") as out:
        write_export(session, fmt, out, filters, progress=calls.append)
        total = count_events(session, filters)
    return calls, total


def test_xes_read_by_pm4py_has_sanshe_case_durations_and_counts(mining_db, tmp_path):
    path = tmp_path / "log.xes"
    calls, total = export(mining_db, "xes", path)
    assert sum(calls) == total == len(event_rows())
    df = pm4py.read_xes(str(path))
    leads, counts = sanshe_figures(mining_db)
    completed = df[df["case:concept:name"].isin(leads)]
    assert sorted(pm4py.get_all_case_durations(completed)) == sorted(leads.values())
    done = df[df["lifecycle:transition"] == "complete"]["concept:name"].value_counts().to_dict()
    assert done == {name: n for name, n in counts.items() if n}
    # The standard lifecycle model: a task cancelled before anyone started it was withdrawn.
    assert set(df["lifecycle:transition"]) == {"schedule", "assign", "start", "complete", "withdraw"}
    assert set(df["org:role"].dropna()) == {"social_organization", "community_committee"}
    assert set(df["sanshe:step"].dropna().astype(int)) == {2, 3, 4}


def test_csv_is_an_interval_log_pm4py_measures_like_sanshe(mining_db, tmp_path):
    path = tmp_path / "log.csv"
    export(mining_db, "csv", path)
    df = pd.read_csv(path, dtype={"case_id": str})
    assert len(df) == 11  # one row per activity instance
    done = df.dropna(subset=["complete"]).copy()
    for column in ("scheduled", "start", "complete"):
        done[column] = pd.to_datetime(done[column], utc=True)
    leads, counts = sanshe_figures(mining_db)
    # PM4Py measures a case from its first to its last timestamp: give it the schedule and complete ends.
    ends = pd.concat([done[["case_id", "activity", "scheduled"]].rename(columns={"scheduled": "ts"}),
                      done[["case_id", "activity", "complete"]].rename(columns={"complete": "ts"})]).sort_values("ts")
    ends = ends[ends["case_id"].isin(leads)]
    durations = pm4py.get_all_case_durations(ends, case_id_key="case_id", activity_key="activity", timestamp_key="ts")
    assert sorted(durations) == sorted(leads.values())
    assert done["activity"].value_counts().to_dict() == {name: n for name, n in counts.items() if n}
    # Working time (start -> complete) as PM4Py's service time equals Sanshe's mean working time.
    service = pm4py.get_service_time(done, activity_key="activity", timestamp_key="complete",
                                     start_timestamp_key="start", case_id_key="case_id")
    assert service[NAMES["write_application"]] == pytest.approx(36 * 3600)


def test_ocel_read_by_pm4py_relates_events_to_projects_and_steps(mining_db, tmp_path):
    path = tmp_path / "log.jsonocel"
    export(mining_db, "ocel", path)
    ocel = pm4py.read_ocel2_json(str(path))
    assert set(ocel.objects["ocel:type"]) == {"project", "application", "vote", "community", "organization"}
    flat = pm4py.ocel_flattening(ocel, "project")
    leads, counts = sanshe_figures(mining_db)
    flat["case"] = flat["case:concept:name"].str.removeprefix("project:")
    completed = flat[flat["case"].isin(leads)]
    described = case_statistics.get_cases_description(completed, parameters={
        case_statistics.Parameters.CASE_ID_KEY: "case"})
    assert {case: d["caseDuration"] for case, d in described.items()} == leads
    activities = flat[~flat["concept:name"].str.startswith("Project ")]
    assert activities["concept:name"].value_counts().to_dict() == {name: n for name, n in counts.items() if n}
    # Case 2 voted twice: its tallies close two vote rounds.
    votes = pm4py.ocel_flattening(ocel, "vote")
    assert sorted(votes["case:concept:name"].unique()) == ["vote:1:1", "vote:2:1", "vote:2:2"]


def test_filtered_export_holds_only_the_selected_cases(mining_db):
    with unit_of_work(mining_db, readonly=True) as session:
        text = "".join(iter_export(session, "xes", LogFilter(community_id=2)))
    root = ET.fromstring(text)
    ns = {"x": "http://www.xes-standard.org/"}
    traces = [t.find("x:string[@key='concept:name']", ns).get("value") for t in root.findall("x:trace", ns)]
    assert traces == ["2", "4"]


def test_date_range_export_holds_the_cases_started_in_it(mining_db):
    with unit_of_work(mining_db, readonly=True) as session:
        rows = list(csv.DictReader(io.StringIO("".join(
            iter_export(session, "csv", LogFilter(since=date(2024, 1, 1), until=date(2024, 1, 2)))))))
    assert {r["case_id"] for r in rows} == {"1", "4"}  # case 2 starts at the until instant: left out


def test_unknown_format_is_refused(mining_db):
    with unit_of_work(mining_db, readonly=True) as session, pytest.raises(ValidationError):
        write_export(session, "parquet", io.StringIO())


def test_ocel_is_valid_json_with_declared_event_types(mining_db):
    with unit_of_work(mining_db, readonly=True) as session:
        document = json.loads("".join(iter_export(session, "ocel")))
    declared = {t["name"] for t in document["eventTypes"]}
    assert {e["type"] for e in document["events"]} <= declared
    assert len(document["events"]) == 9 + 7  # completions + instance starts and ends
