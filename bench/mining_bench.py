"""Cycle-time report: Sanshe against PM4Py, like for like, and the exports.

    python -m bench.mining_bench --events 1000000     (or: sanshe bench mining)

The same report every way: case durations, per-activity mean waiting time (schedule ->
pickup) and working time (start -> complete), and the directly-follows graph of completed
activities with mean durations (Sanshe also computes medians, p90 and maxima).

* rebuilt: Sanshe folds the raw events into its mining tables again, then reports;
* PM4Py: reads Sanshe's CSV export (one row per activity instance) and computes the same;
* maintained: Sanshe reports from the tables kept current as events are written: each
  activity's durations are read from indexes that hold them in order (counts, sums and
  maxima in one scan; medians and p90s two index entries each), the directly-follows graph
  from the edge each completion keeps to the one before it.

The first two start from a file or table of raw events, so they compare like for like;
the third is what the dashboard pays. PM4Py (AGPL) is a bench/test-only dependency.
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


def pm4py_from_csv(path):
    """PM4Py reading the CSV export and computing the report (times: load, compute)."""
    import pandas as pd
    import pm4py
    from pm4py.util import constants

    constants.SHOW_INTERNAL_WARNINGS = False
    began = time.perf_counter()
    df = pd.read_csv(path, dtype={"case_id": str, "activity_id": str}, usecols=[
        "case_id", "activity_id", "case_status", "seq", "scheduled", "start", "complete"])
    for column in ("scheduled", "start", "complete"):
        df[column] = pd.to_datetime(df[column], format="ISO8601", utc=True)
    loaded = time.perf_counter()
    keys: dict[str, Any] = {"case_id_key": "case_id", "activity_key": "activity_id"}
    done = df.dropna(subset=["complete"])
    finished: Any = done[done["case_status"] == "completed"]
    frames: list[Any] = [finished[["case_id", "activity_id", column]].set_axis(["case_id", "activity_id", "ts"], axis=1)
                         for column in ("scheduled", "complete")]
    ends = pd.concat(frames).dropna()
    durations = pm4py.get_all_case_durations(ends.sort_values(["case_id", "ts"], kind="stable"),
                                             timestamp_key="ts", **keys)
    waited = df.dropna(subset=["scheduled", "start"])
    waiting = pm4py.get_service_time(waited, start_timestamp_key="scheduled", timestamp_key="start", **keys)
    working = pm4py.get_service_time(done, start_timestamp_key="start", timestamp_key="complete", **keys)
    ordered = done.sort_values(["case_id", "complete", "seq"], kind="stable")
    dfg = pm4py.discover_performance_dfg(ordered, timestamp_key="complete", **keys)
    computed = time.perf_counter()
    return {"load": loaded - began, "compute": computed - loaded, "durations": durations, "waiting": waiting,
            "working": working, "dfg": dfg}


def export_file(factory, fmt, path):
    began = time.perf_counter()
    with unit_of_work(factory, readonly=True) as session, open(path, "w", encoding="utf-8", newline="") as out:
        size = write_export(session, fmt, out)
    return time.perf_counter() - began, size


def xes_export(factory, path, trace):
    if trace:
        tracemalloc.start()
    began, cpu = time.perf_counter(), time.process_time()
    with unit_of_work(factory, readonly=True) as session, open(path, "w", encoding="utf-8") as out:
        size = write_export(session, "xes", out)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    return elapsed, cpu, size, peak


def run(events=1_000_000, database_url=None):
    database_url = database_url or f"sqlite:///{ROOT / 'var' / f'bench_mining_{events}.db'}"
    engine, factory = prepare(database_url, events)
    with unit_of_work(factory, readonly=True) as session:
        total = session.scalar(select(func.count()).select_from(Event))
    print(f"event log: {total} events in {engine.url.render_as_string(hide_password=True)}; machine load "
          f"(1, 5, 15 min) {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    xes_path = ROOT / "var" / "bench_export.xes"
    elapsed, cpu, size, _ = xes_export(factory, xes_path, trace=False)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _, _, _, peak = xes_export(factory, xes_path, trace=True)
    print(f"XES export: {elapsed:.1f} s (CPU {cpu:.1f} s) for {total} events ({size / 1e6:.0f} MB); peak RSS grew by "
          f"{(rss_after - rss_before) / 1024:.1f} MiB; traced Python peak {(peak or 0) / 2**20:.1f} MiB "
          f"(goal <= 10 s, flat memory)")
    os.remove(xes_path)

    csv_path = ROOT / "var" / "bench_export.csv"
    elapsed, size = export_file(factory, "csv", csv_path)
    print(f"CSV export: {elapsed:.1f} s ({size / 1e6:.0f} MB)")

    # CPU seconds of this process beside the wall clock: on a shared machine the wall clock
    # mostly measures the neighbours. PM4Py and SQLite both run in this process, so their
    # CPU times compare like for like (a PostgreSQL server's CPU is not counted).
    gc.collect()
    began, cpu = time.perf_counter(), time.process_time()
    with unit_of_work(factory) as session:
        rebuild(session)
    folded = time.perf_counter() - began
    cases, activities, edges = sanshe_report(factory)
    rebuilt, rebuilt_cpu = time.perf_counter() - began, time.process_time() - cpu
    gc.collect()
    cpu = time.process_time()
    pm = pm4py_from_csv(csv_path)
    pm_total, pm_cpu = pm["load"] + pm["compute"], time.process_time() - cpu
    os.remove(csv_path)
    gc.collect()
    began, cpu = time.perf_counter(), time.process_time()
    sanshe_report(factory)
    maintained, maintained_cpu = time.perf_counter() - began, time.process_time() - cpu
    began = time.perf_counter()
    with unit_of_work(factory, readonly=True) as session:
        cycle_time_report(session)
    full = time.perf_counter() - began
    print(f"Sanshe rebuilt from raw events, then the report: {rebuilt:.2f} s, CPU {rebuilt_cpu:.2f} s "
          f"(folding {folded:.2f} s)")
    print(f"PM4Py reading the CSV export, then the report: {pm_total:.2f} s, CPU {pm_cpu:.2f} s "
          f"(reading {pm['load']:.2f} s, computing {pm['compute']:.2f} s)")
    print(f"  like for like, PM4Py / rebuilt: {pm_total / rebuilt:.2f}x, CPU {pm_cpu / rebuilt_cpu:.2f}x (goal >= 1x)")
    print(f"Sanshe from the maintained tables: {maintained:.2f} s, CPU {maintained_cpu:.2f} s (full report with "
          f"steps, rework, variants, slow and running cases: {full:.2f} s)")
    print(f"  PM4Py / maintained: {pm_total / maintained:.1f}x, CPU {pm_cpu / maintained_cpu:.1f}x (goal >= 3x)")
    pm_mean = sum(pm["durations"]) / len(pm["durations"]) if pm["durations"] else 0
    edges_pm = pm["dfg"][0] if isinstance(pm["dfg"], tuple) else pm["dfg"]
    ours = {(e["source"], e["target"]): e["count"] for e in edges}
    theirs = {edge: value.get("count", 0) if isinstance(value, dict) else 0 for edge, value in edges_pm.items()}
    same = sum(1 for edge in ours if edge in theirs)
    print(f"agreement: mean lead time Sanshe {cases['lead']['mean'] / 86400:.3f} d, PM4Py (first to last "
          f"timestamp) {pm_mean / 86400:.3f} d; {len(activities)} activities vs {len(pm['working'])}; "
          f"{len(ours)} DFG edges vs {len(edges_pm)} ({same} in both)")
    print(f"machine load (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    engine.dispose()


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    run(args.events, args.database_url)


if __name__ == "__main__":
    main()
