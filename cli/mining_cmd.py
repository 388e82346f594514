"""Process mining: `sanshe mine report`, `sanshe mine export`, `sanshe bench mining`."""
import csv
import functools
import json
import sys
from datetime import date, datetime

import click

from engine.core import access
from engine.mining.fold import rebuild
from engine.core.calendar import WorkingCalendar
from engine.core.db import unit_of_work
from engine.mining.exports import EXPORTS, count_events, write_export
from engine.mining.logview import LogFilter
from engine.mining.cycle_times import cycle_time_report

from .app import bench, clear_errors, main, pass_ctx


@main.group()
def mine():
    """Cycle times mined from the event log, and exports for other mining tools."""


def filter_options(func):
    """The filters every mining command takes."""
    options = [
        click.option("--process", help="Process id (definition key), e.g. seven_step_project."),
        click.option("--version", type=int, help="Definition version."),
        click.option("--community", help="Community code or id."),
        click.option("--town", help="Town code or id."),
        click.option("--organization", help="Social organization code or id."),
        click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Cases started on or after this day."),
        click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Cases started before this day."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), func)


def _resolve(session, scope_type, value):
    return None if value is None else access.find_scope(session, scope_type, value)


def build_filter(session, process, version, community, town, organization, since, until):
    return LogFilter(process=process, version=version, community_id=_resolve(session, "community", community),
                     town_id=_resolve(session, "town", town),
                     organization_id=_resolve(session, "organization", organization), since=since, until=until)


def days(seconds):
    return "-" if seconds is None else f"{seconds / 86400:.1f}"


def _table(headers, rows):
    widths = [max([len(str(h)), *(len(str(r[i])) for r in rows)]) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    click.echo(line(headers))
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo(line(row))


def _stats(d):
    return [days(d["mean"]), days(d["median"]), days(d["p90"]), days(d["max"])]


def print_report(report, limit):
    unit = "working days" if report["working_days"] else "days"
    cases = report["cases"]
    click.echo(f"Cases: {', '.join(f'{k} {v}' for k, v in sorted(cases['status'].items())) or 'none'}  (durations in {unit})")
    lead = cases["lead"]
    click.echo(f"Lead time of completed cases: mean {days(lead['mean'])}, median {days(lead['median'])}, "
               f"p90 {days(lead['p90'])}, max {days(lead['max'])}")
    tallest = max([b["cases"] for b in cases["histogram"]] or [1]) or 1
    for bucket in cases["histogram"]:
        bar = "#" * round(50 * bucket["cases"] / tallest)
        click.echo(f"  {days(bucket['lower']):>7} - {days(bucket['upper']):<7} {bar} {bucket['cases']}")
    click.echo("\nSteps")
    _table(["step", "cases", "done", "wait mean", "median", "p90", "max", "work mean", "median", "p90", "max",
            "span mean", "median", "p90", "max"],
           [[s["step"], s["cases"], s["completed"], *_stats(s["waiting"]), *_stats(s["working"]), *_stats(s["span"])]
            for s in report["steps"]])
    click.echo("\nActivities")
    _table(["step", "activity", "done", "cancelled", "wait mean", "median", "p90", "max", "work mean", "median", "p90", "max"],
           [[a["step"] or "", a["activity_id"], a["completed"], a["cancelled"], *_stats(a["waiting"]), *_stats(a["working"])]
            for a in report["activities"]])
    click.echo("\nBottlenecks (where cases wait)")
    _table(["activity", "step", "role", "waiting total", "share", "mean wait"],
           [[b["activity_id"], b["step"] or "", b["role"] or "", days(b["waiting_sum"]), f"{b['share']:.0%}",
             days(b["waiting_mean"])] for b in report["bottlenecks"]])
    rework = report["rework"]
    click.echo(f"\nRework: {rework['mean_rounds'] or 0:.2f} revision rounds per case (max {rework['max_rounds']}); "
               f"{rework['cases_with_revotes']} cases voted again ({rework['revotes']} re-votes)")
    click.echo("  rounds: " + ", ".join(f"{r}: {n}" for r, n in rework["rounds"]))
    variants = report["variants"]
    click.echo(f"\nVariants: {variants['count']} distinct paths of completed cases; the {limit} most frequent")
    _table(["cases", "share", "mean lead", "activities", "path"],
           [[v["cases"], f"{v['share']:.1%}", days(v["mean_lead"]), len(v["activities"]),
             " > ".join(v["activities"])[:100]] for v in variants["variants"]])
    click.echo("\nDirectly-follows graph (completions in case order; mean time between them)")
    _table(["from", "to", "times", "cases", "mean"],
           [[e["source"], e["target"], e["count"], e["cases"], days(e["mean"])]
            for e in sorted(report["directly_follows"], key=lambda e: (-e["count"], e["source"], e["target"]))])
    click.echo("\nSlowest cases")
    _table(["instance", "status", "lead", "rounds", "version", "community", "title"],
           [[c["instance_id"], c["status"], days(c["lead"]), c["rounds"], c["definition_version"], c["community_id"],
             (c["title"] or "")[:40]] for c in report["slowest"]])
    click.echo("\nRunning cases by current step")
    _table(["step", "cases", "age mean", "median", "p90", "max", "in step mean", "max"],
           [[r["step"], r["age"]["n"], *_stats(r["age"]), days(r["in_step"]["mean"]), days(r["in_step"]["max"])]
            for r in report["running"]])


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in the report")


def report_rows(report):
    """The report as ``(section, key, measure, statistic, value)`` rows, values at full precision."""
    yield "cases", "", "status", "", ""
    for status, n in sorted(report["cases"]["status"].items()):
        yield "cases", status, "cases", "n", n
    for stat, value in report["cases"]["lead"].items():
        yield "cases", "completed", "lead_seconds", stat, value
    for section, key in (("steps", "step"), ("activities", "activity_id"), ("running", "step")):
        for row in report[section]:
            for measure, stats in row.items():
                if isinstance(stats, dict):
                    for stat, value in stats.items():
                        yield section, row[key], f"{measure}_seconds", stat, value
                elif measure not in (key, "activity_name", "activity_type", "role"):
                    yield section, row[key], measure, "", stats
    for edge in report["directly_follows"]:
        key = f"{edge['source']}>{edge['target']}"
        yield "directly_follows", key, "times", "n", edge["count"]
        yield "directly_follows", key, "cases", "n", edge["cases"]
        yield "directly_follows", key, "between_seconds", "mean", edge["mean"]
    for variant in report["variants"]["variants"]:
        key = ">".join(variant["activities"])
        yield "variants", key, "cases", "n", variant["cases"]
        yield "variants", key, "lead_seconds", "mean", variant["mean_lead"]
    for case in report["slowest"]:
        yield "slowest", case["instance_id"], "lead_seconds", "", case["lead"]
    rework = report["rework"]
    for rounds, n in rework["rounds"]:
        yield "rework", rounds, "cases", "n", n
    yield "rework", "", "revotes", "n", rework["revotes"]


def _write_csv(report):
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(("section", "key", "measure", "statistic", "value"))
    for section, key, measure, stat, value in report_rows(report):
        writer.writerow((section, key, measure, stat, "" if value is None else repr(value)
                         if isinstance(value, float) else value))


@mine.command("report")
@filter_options
@click.option("--working-days", is_flag=True, help="Count working days only (weekends and configured holidays skipped).")
@click.option("--limit", default=10, show_default=True, help="Rows in the variants, bottleneck and slowest-case tables.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True,
              help="text: tables in days; json or csv: every figure in seconds at full precision.")
@pass_ctx
@clear_errors
def report_cmd(ctx, working_days, limit, fmt, **filters):
    """Cycle times per step and activity, lead times, rework, variants, bottlenecks, the directly-follows graph."""
    calendar = WorkingCalendar.from_settings(ctx.settings) if working_days else None
    with unit_of_work(ctx.services.session_factory, readonly=True) as session:
        report = cycle_time_report(session, build_filter(session, **filters), calendar, limit=limit)
    if fmt == "json":
        click.echo(json.dumps(report, default=_plain, ensure_ascii=False, indent=1))
    elif fmt == "csv":
        _write_csv(report)
    else:
        print_report(report, limit)


@mine.command("export")
@filter_options
@click.option("--format", "fmt", type=click.Choice(sorted(EXPORTS)), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True)
@pass_ctx
@clear_errors
def export_cmd(ctx, fmt, output, **filters):
    """Write the event log as XES, CSV (activity instances) or OCEL 2.0 JSON."""
    with unit_of_work(ctx.services.session_factory, readonly=True) as session:
        log_filter = build_filter(session, **filters)
        total = count_events(session, log_filter)
        with open(output, "w", encoding="utf-8", newline="") as out, \
                click.progressbar(length=total, label=f"{fmt} export", file=sys.stderr) as bar:
            size = write_export(session, fmt, out, log_filter, progress=bar.update)
    click.echo(f"{output}: {total} events, {size / 1e6:.1f} MB")


@mine.command("rebuild")
@pass_ctx
@clear_errors
def rebuild_cmd(ctx):
    """Fold the whole event log into the mining tables again (logs loaded around the engine)."""
    with unit_of_work(ctx.services.session_factory) as session:
        cases, acts = rebuild(session)
    click.echo(f"mining tables rebuilt: {cases} cases, {acts} activity instances")


@bench.command("mining")
@click.option("--events", default=1_000_000, show_default=True, help="Size of the generated event log.")
@click.option("--database-url", help="Where to generate it (default: a SQLite file under var/).")
def bench_mining(events, database_url):
    """Cycle-time report and XES export on a generated log, against PM4Py."""
    from bench.mining_bench import run

    run(events, database_url)


__all__ = ["mine", "build_filter", "print_report"]
