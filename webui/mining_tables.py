"""The mining dashboard's tables in people's words: headings, task, step, role and place
names in the reader's language. The page shows them, and the same tables are downloaded as
.xlsx or CSV (see :mod:`engine.mining.spreadsheets`)."""
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from engine.mining.spreadsheets import Column, Table

from .i18n import ROLE_LABELS, STATUS_LABELS, STEP_LABELS, task_title


DEVIATION_LABELS = {"skipped": lazy_gettext("Skipped"), "repeated": lazy_gettext("Repeated"),
                    "unexpected": lazy_gettext("Not in the diagram at that point")}


def _step(step: int | None) -> str:
    return f"{step} {STEP_LABELS[step]}" if step in STEP_LABELS else (str(step) if step is not None else "")


def _project(case: dict[str, Any]) -> tuple[str, str]:
    return (case["title"] or _("Project %(id)s", id=case["instance_id"]),
            url_for("instances.show", instance_id=case["instance_id"]))


def group_label(by: str) -> str:
    return {"town": _("Town"), "community": _("Community"), "organization": _("Social organization"),
            "year": _("Year started")}[by]


def report_tables(report: dict[str, Any], extra: dict[str, Any], names: dict[tuple[str, int], str]) -> list[Table]:
    """Every table of the dashboard, in the order the page shows them."""
    activity_names = {a["activity_id"]: task_title(a["activity_name"] or a["activity_id"]) for a in report["activities"]}
    on_time = extra["on_time"]
    steps = Table("steps", _("Duration per step"), [
        Column(_("Step")), Column(_("Number of tasks"), "count"), Column(_("On time"), "share"),
        Column(_("Waiting (mean)"), "days"), Column(_("Working (mean)"), "days"), Column(_("Median"), "days"),
        Column(_("P90"), "days"), Column(_("Longest"), "days")])
    for s in report["steps"]:
        rate = on_time.get(s["step"], {}).get("rate")
        steps.rows.append([_step(s["step"]), s["rows"], rate, s["waiting"]["mean"], s["working"]["mean"],
                           s["total"]["median"], s["total"]["p90"], s["total"]["max"]])
    bottlenecks = Table("bottlenecks", _("Bottlenecks"), [
        Column(_("Task")), Column(_("Step")), Column(_("Who")), Column(_("Waiting (mean)"), "days"),
        Column(_("Working (mean)"), "days"), Column(_("Share of all waiting"), "share")])
    for b in report["bottlenecks"]:
        bottlenecks.rows.append([activity_names.get(b["activity_id"], b["activity_id"]), _step(b["step"]),
                                 str(ROLE_LABELS.get(b["role"], "")), b["waiting_mean"], b["working_mean"], b["share"]])
    rounds = Table("rounds", _("Revision rounds"), [Column(_("Revision rounds"), "count"), Column(_("Number of projects"), "count")])
    rounds.rows = [[n, cases] for n, cases in report["rework"]["rounds"]]
    slowest = Table("slowest", _("Slowest projects"), [
        Column(_("Project")), Column(_("Status")), Column(_("Lead time (so far)"), "days"),
        Column(_("Revision rounds"), "count")])
    slowest.rows = [[_project(c), str(STATUS_LABELS.get(c["status"], c["status"])), c["lead"], c["rounds"]]
                    for c in report["slowest"]]
    variants = Table("variants", _("Variants"), [
        Column(_("Path")), Column(_("Number of tasks"), "count"), Column(_("Number of projects"), "count"), Column(_("Share"), "share"),
        Column(_("Lead time (mean)"), "days")])
    variants.rows = [[" → ".join(str(activity_names.get(a, a)) for a in v["activities"]), len(v["activities"]), v["cases"],
                      v["share"], v["mean_lead"]] for v in report["variants"]["variants"]]
    by = extra["by"]
    compare = Table("compare", _("Comparison by %(what)s", what=group_label(by)), [
        Column(group_label(by)), Column(_("Number of projects"), "count"), Column(_("Completed"), "count"),
        Column(_("Running"), "count"), Column(_("Terminated"), "count"), Column(_("Lead time (mean)"), "days"),
        Column(_("Lead time (median)"), "days"), Column(_("Revision rounds (mean)")), Column(_("On time"), "share")])
    for row in extra["compare"]:
        key = row["key"]
        label = str(key) if by == "year" else names.get((by, key)) or (_("Unknown") if key is None else str(key))
        compare.rows.append([label, row["cases"], row["completed"], row["running"], row["cancelled"], row["lead_mean"],
                             row["lead_median"], round(row["rounds_mean"], 2), row["on_time_rate"]])
    expected = Table("expected", _("Running projects: expected completion"), [
        Column(_("Project")), Column(_("Current step")), Column(_("In this step since"), "date"),
        Column(_("Expected completion"), "date"), Column(_("Earliest (1 in 10 finish sooner)"), "date"),
        Column(_("Latest (1 in 10 finish later)"), "date"), Column(_("Finished projects compared"), "count")])
    expected.rows = [[_project(r), _step(r["step"]), r["since"], r["expected"], r["low"], r["high"], r["basis"]]
                     for r in extra["expected"]]
    fit = extra["conformance"]
    versions = Table("fitness", _("Conformance per diagram version"), [
        Column(_("Version")), Column(_("Finished projects"), "count"), Column(_("Fitness (mean)"), "share"),
        Column(_("Ran exactly as drawn"), "share")])
    versions.rows = [[_("Version %(n)s", n=v["version"]), v["cases"], v["fitness"], v["fitting"]]
                     for v in fit["versions"]]
    deviations = Table("deviations", _("Deviations from the diagram"), [
        Column(_("Deviation")), Column(_("Task")), Column(_("Number of projects"), "count")])
    deviations.rows = [[str(DEVIATION_LABELS.get(d["kind"], d["kind"])),
                        activity_names.get(d["activity_id"], d["activity_id"]), d["cases"]] for d in fit["deviations"]]
    deviating = Table("deviating", _("Projects that deviated"), [
        Column(_("Project")), Column(_("Version")), Column(_("Fitness"), "share"), Column(_("Deviations"))])
    deviating.rows = [[_project(c), _("Version %(n)s", n=c["version"]), c["fitness"],
                       "；".join(f"{DEVIATION_LABELS.get(kind, kind)}：{activity_names.get(task, task)}"
                                for kind, task, _after in c["deviations"])]
                      for c in fit["cases"] if c["deviations"]][:100]
    return [steps, bottlenecks, rounds, slowest, variants, compare, expected, versions, deviations, deviating]
