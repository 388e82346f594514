"""PM4Py reads each export of a log full of tied timestamps and finds Sanshe's own figures.

The directly-follows graph, its mean durations, activity counts and case durations must be
the same whichever file another tool reads; ties in time are ordered by the case's event
sequence, never by name.
"""
import io
import json
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from engine.core.db import unit_of_work
from engine.mining.cycle_times import activity_stats, case_lead_times, directly_follows, log_view
from engine.mining.exports import iter_export, write_export
from tests.engine.tied_log import CASES, NAMES, NOW, tied_db  # noqa: F401 (fixture)

pm4py = pytest.importorskip("pm4py")
from pm4py.util import constants as pm4py_constants  # noqa: E402

pm4py_constants.SHOW_INTERNAL_WARNINGS = False


@pytest.fixture(scope="module")
def figures(tied_db):
    """Sanshe's DFG (by activity name), edge means, completion counts and lead times."""
    with unit_of_work(tied_db, readonly=True) as session, log_view(session, now=NOW) as view:
        edges = directly_follows(view)
        counts = {NAMES[a["activity_id"]]: a["completed"] for a in activity_stats(view) if a["completed"]}
        leads = {str(k): v for k, v in case_lead_times(view).items()}
    dfg = {(NAMES[e["source"]], NAMES[e["target"]]): e["count"] for e in edges}
    means = {(NAMES[e["source"]], NAMES[e["target"]]): e["mean"] for e in edges}
    return dfg, means, counts, leads


@pytest.fixture(scope="module")
def files(tied_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    paths = {}
    for fmt, suffix in (("xes", "xes"), ("csv", "csv"), ("ocel", "jsonocel")):
        paths[fmt] = folder / f"log.{suffix}"
        with unit_of_work(tied_db, readonly=True) as session, open(paths[fmt], "w", encoding="utf-8", newline="") as out:
            write_export(session, fmt, out)
    return paths


def means_of(performance):
    return {edge: value["mean"] if isinstance(value, dict) else value for edge, value in performance.items()}


def test_the_log_is_full_of_ties(tied_db):
    with unit_of_work(tied_db, readonly=True) as session:
        rows = list(iter_export(session, "csv"))
    df = pd.read_csv(io.StringIO("".join(rows))).dropna(subset=["complete"])
    tied = df.duplicated(subset=["case_id", "complete"], keep=False)
    assert tied.mean() > 0.4


def test_xes_gives_pm4py_the_same_graph_counts_and_durations(figures, files):
    dfg, means, counts, leads = figures
    df = pm4py.read_xes(str(files["xes"]))
    done = df[df["lifecycle:transition"] == "complete"]
    assert dict(pm4py.discover_dfg(done)[0]) == dfg
    assert means_of(pm4py.discover_performance_dfg(done)[0]) == pytest.approx(means)
    assert done["concept:name"].value_counts().to_dict() == counts
    completed = df[df["case:sanshe:status"] == "completed"]
    assert sorted(pm4py.get_all_case_durations(completed)) == pytest.approx(sorted(leads.values()))
    # Another tool tells finished from running cases, and who handled even a scheduled task.
    status = df.groupby("case:concept:name")["case:sanshe:status"].first().value_counts().to_dict()
    assert status == {"completed": len(leads), "running": CASES - len(leads) - 1, "cancelled": 1}
    scheduled = df[df["lifecycle:transition"] == "schedule"]
    handled = scheduled["concept:instance"].isin(set(done["concept:instance"]))
    assert scheduled[handled]["org:resource"].notna().all()


def test_csv_gives_pm4py_the_same_graph_counts_and_durations(figures, files):
    dfg, means, counts, leads = figures
    df = pd.read_csv(files["csv"], dtype={"case_id": str})
    done = df.dropna(subset=["complete"]).copy()
    for column in ("start", "complete"):
        done[column] = pd.to_datetime(done[column], utc=True)
    keys = {"case_id_key": "case_id", "activity_key": "activity", "timestamp_key": "complete"}
    assert dict(pm4py.discover_dfg(done, **keys)[0]) == dfg
    assert means_of(pm4py.discover_performance_dfg(done, **keys)[0]) == pytest.approx(means)
    assert done["activity"].value_counts().to_dict() == counts
    # The sequence column alone orders each case's rows the way the file does.
    assert bool((df.groupby("case_id")["seq"].diff().dropna() > 0).all())
    assert set(df[df["case_id"].isin(leads)]["case_status"]) == {"completed"}


def test_ocel_gives_pm4py_the_same_graph_and_declares_every_object(figures, files):
    dfg, means, counts, leads = figures
    ocel = pm4py.read_ocel2_json(str(files["ocel"]))
    flat = pm4py.ocel_flattening(ocel, "project")
    activities = flat[~flat["concept:name"].str.startswith("Project ")]
    assert dict(pm4py.discover_dfg(activities)[0]) == dfg
    assert activities["concept:name"].value_counts().to_dict() == counts
    document = json.loads(files["ocel"].read_text(encoding="utf-8"))
    declared = {o["id"] for o in document["objects"]}
    related = {r["objectId"] for e in document["events"] for r in e["relationships"]}
    related |= {r["objectId"] for o in document["objects"] for r in o["relationships"]}
    assert related <= declared
    # Case 7 voted once and has a ballot of its second round: that round is an object too.
    assert {"vote:7:1", "vote:7:2"} <= declared


def test_xes_trace_status_comes_before_the_events(files):
    ns = {"x": "http://www.xes-standard.org/"}
    trace = ET.parse(files["xes"]).getroot().find("x:trace", ns)
    assert trace is not None
    tags = [child.tag.split("}")[1] for child in trace]
    assert tags.index("event") > max(i for i, t in enumerate(tags) if t == "string")


def test_the_writer_numbers_each_case_from_one_without_gaps(tied_db):
    from sqlalchemy import select
    from engine.core.models import Event

    with unit_of_work(tied_db, readonly=True) as session:
        rows = session.execute(select(Event.instance_id, Event.seq).order_by(Event.instance_id, Event.id)).all()
    per_case: dict[int, list[int | None]] = {}
    for case, seq in rows:
        per_case.setdefault(case, []).append(seq)
    assert all(numbers == list(range(1, len(numbers) + 1)) for numbers in per_case.values())
