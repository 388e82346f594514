"""Cycle-time report: Sanshe (SQL over the event table) against PM4Py, and the XES export.

    python -m bench.mining_bench --events 1000000     (or: sanshe bench mining)

The same report both ways, from the same database: case durations, per-activity mean
waiting time (schedule -> pickup) and working time (start -> complete), and the
directly-follows graph of completed activities with mean durations. Sanshe's side also
computes medians, p90 and maxima; PM4Py's only means. PM4Py's time is shown with and
without reading the events into pandas. PM4Py (AGPL) is a bench/test-only dependency.
"""
import argparse
import gc
import os
import resource
import time
import tracemalloc
from typing import Any
from pathlib import Path

from sqlalchemy import func, select

from engine.mining.fold import rebuild
from engine.core.db import make_engine, make_session_factory, table_of, unit_of_work, upgrade_schema
from engine.mining.exports import write_export
from engine.mining.cycle_times import activity_stats, case_durations, cycle_time_report, directly_follows, log_view
from engine.mining.models import MiningAct, MiningCase
from engine.core.models import Event

ROOT = Path(__file__).resolve().parent.parent


def prepare(database_url, events):
    """A database holding about ``events`` generated events (reused when already there)."""
    from bench.gen_eventlog import generate

    engine = make_engine(database_url)
    upgrade_schema(engine)
    # A log generated before the mining tables existed: its (unreleased) baseline lacks them.
    MiningCase.metadata.create_all(engine, tables=[table_of(MiningCase), table_of(MiningAct)])
    factory = make_session_factory(engine)
    with unit_of_work(factory, readonly=True) as session:
        present = session.scalar(select(func.count()).select_from(Event))
    if present < events:
        began = time.perf_counter()
        with unit_of_work(factory) as session:
            cases, written = generate(session, events - present)
        print(f"generated {written} events ({cases} cases) in {time.perf_counter() - began:.1f} s")
    else:
        with unit_of_work(factory) as session:
            if session.scalar(select(func.count()).select_from(MiningCase)) == 0:
                began = time.perf_counter()
                rebuild(session)  # a log generated before the mining tables existed
                print(f"folded the events into the mining tables in {time.perf_counter() - began:.1f} s")
    return engine, factory


def sanshe_report(factory):
    with unit_of_work(factory, readonly=True) as session, log_view(session) as view:
        cases = case_durations(view)
        activities = activity_stats(view)
        edges = directly_follows(view)
    return cases, activities, edges


def pm4py_report(engine):
    import pandas as pd
    import pm4py
    from pm4py.util import constants

    constants.SHOW_INTERNAL_WARNINGS = False
    began = time.perf_counter()
    df = pd.read_sql("SELECT instance_id, task_id, activity_id, activity_type, transition, ts FROM events", engine)
    df["ts"] = pd.to_datetime(df["ts"], format="ISO8601")
    df["instance_id"] = df["instance_id"].astype(str)
    loaded = time.perf_counter()
    # PM4Py takes a case's first and last rows as its ends: order the log as format_dataframe would.
    df = df.sort_values(["instance_id", "ts"], kind="stable")
    keys: dict[str, Any] = {"case_id_key": "instance_id", "activity_key": "activity_id", "timestamp_key": "ts"}
    ended = df[(df["activity_type"] == "instance") & (df["transition"] == "complete")]["instance_id"]
    finished_cases: Any = df[df["instance_id"].isin(list(set(ended)))]
    durations = pm4py.get_all_case_durations(finished_cases, **keys)
    tasks = df[df["task_id"].notna()]
    # Activity instances: one row per task with its schedule, pickup, start and completion.
    pivot = tasks.pivot_table(index=["task_id", "instance_id", "activity_id"], columns="transition", values="ts",
                              aggfunc="min").reset_index()
    pivot["pickup"] = pivot[["assign", "start"]].min(axis=1)
    waited = pivot.dropna(subset=["schedule", "pickup"])
    waiting = pm4py.get_service_time(waited, start_timestamp_key="schedule", **{**keys, "timestamp_key": "pickup"})
    done = pivot.dropna(subset=["complete"]).copy()
    done["begin"] = done["start"].fillna(done["pickup"]).fillna(done["schedule"])
    working = pm4py.get_service_time(done, start_timestamp_key="begin", **{**keys, "timestamp_key": "complete"})
    dfg = pm4py.discover_performance_dfg(done.sort_values(["instance_id", "complete"]),
                                         **{**keys, "timestamp_key": "complete"})
    finished = time.perf_counter()
    return {"load": loaded - began, "compute": finished - loaded, "durations": durations, "waiting": waiting,
            "working": working, "dfg": dfg}


def xes_export(factory, path, trace):
    if trace:
        tracemalloc.start()
    began = time.perf_counter()
    with unit_of_work(factory, readonly=True) as session, open(path, "w", encoding="utf-8") as out:
        size = write_export(session, "xes", out)
    elapsed = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    return elapsed, size, peak


def run(events=1_000_000, database_url=None):
    database_url = database_url or f"sqlite:///{ROOT / 'var' / f'bench_mining_{events}.db'}"
    engine, factory = prepare(database_url, events)
    with unit_of_work(factory, readonly=True) as session:
        total = session.scalar(select(func.count()).select_from(Event))
    print(f"event log: {total} events in {engine.url.render_as_string(hide_password=True)}")

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    xes_path = ROOT / "var" / "bench_export.xes"
    elapsed, size, _ = xes_export(factory, xes_path, trace=False)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _, _, peak = xes_export(factory, xes_path, trace=True)
    print(f"XES export: {elapsed:.1f} s for {total} events ({size / 1e6:.0f} MB); peak RSS grew by "
          f"{(rss_after - rss_before) / 1024:.1f} MiB; traced Python peak {(peak or 0) / 2**20:.1f} MiB "
          f"(goal <= 10 s, flat memory)")
    os.remove(xes_path)

    began = time.perf_counter()
    cases, activities, edges = sanshe_report(factory)
    sanshe = time.perf_counter() - began
    began = time.perf_counter()
    with unit_of_work(factory, readonly=True) as session:
        cycle_time_report(session)
    full = time.perf_counter() - began
    gc.collect()
    pm = pm4py_report(engine)
    pm_total = pm["load"] + pm["compute"]
    print(f"Sanshe cycle-time report (case durations, activity waiting/working, DFG): {sanshe:.2f} s "
          f"(full report with steps, rework, variants, slow and running cases: {full:.2f} s)")
    print(f"PM4Py same report: {pm_total:.2f} s (reading events into pandas {pm['load']:.2f} s, computing "
          f"{pm['compute']:.2f} s)")
    print(f"ratio PM4Py / Sanshe: {pm_total / sanshe:.1f}x including load, {pm['compute'] / sanshe:.1f}x "
          f"computing only (goal >= 3x)")
    pm_mean = sum(pm["durations"]) / len(pm["durations"]) if pm["durations"] else 0
    edges_pm = len(pm["dfg"][0]) if isinstance(pm["dfg"], tuple) else len(pm["dfg"])
    print(f"agreement: mean lead time Sanshe {cases['lead']['mean'] / 86400:.3f} d, PM4Py {pm_mean / 86400:.3f} d; "
          f"{len(activities)} activities vs {len(pm['working'])}; {len(edges)} DFG edges vs {edges_pm}")
    engine.dispose()


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    run(args.events, args.database_url)


if __name__ == "__main__":
    main()
