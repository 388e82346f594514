"""Process mining dashboard: cycle times per step and activity, on-time rates, comparisons
across places and years, expected completion of running projects, rework, variants, slow
cases, a heatmap on the diagram and the process map; the tables as .xlsx or CSV, and the log
as XES, CSV or OCEL for mining tools — each person in their scope."""
from datetime import datetime, timezone

from flask import Blueprint, Response, jsonify, render_template, request, stream_with_context, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.core.deployments import latest_definition
from engine.core.models import utcnow
from engine.errors import ForbiddenError, NotFoundError, ValidationError
from engine.mining import cycle_times as mining
from engine.mining import exports
from engine.mining.conformance import conformance_report
from engine.mining.decisions import COMPARE_BY, decision_report, due_periods
from engine.mining.logview import LogFilter, log_view
from engine.mining.spreadsheets import csv_bytes, workbook_bytes
from engine.queries.listings import scope_names

from .context import unit
from .i18n import STATUS_LABELS, task_title
from .mining_tables import group_label, report_tables

bp = Blueprint("mining", __name__, url_prefix="/mining")
PROCESS_KEY = "seven_step_project"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Whom the comparison is about by default: the places just below one's own.
DEFAULT_COMPARE = {"town_government": "community", "community_committee": "organization"}


def scope_filter():
    """The part of the log the signed-in person may mine: their town, their community, or all."""
    if current_user.has_role("administrator") or current_user.has_role("city_bureau"):
        return LogFilter(process=PROCESS_KEY)
    for role, scope_type, scope_id in sorted(current_user.grants):
        if role == "town_government":
            return LogFilter(process=PROCESS_KEY, town_id=scope_id)
        if role == "community_committee":
            return LogFilter(process=PROCESS_KEY, community_id=scope_id)
    raise ForbiddenError(_("Process mining is for the civil affairs bureau, town governments, community committees "
                           "and administrators."))


def _compare_by(filters):
    by = request.args.get("by")
    if by:
        if by not in COMPARE_BY:
            raise NotFoundError(_("Projects can be compared by town, community, social organization or year."))
        return by
    if filters.community_id is not None:
        return DEFAULT_COMPARE["community_committee"]
    if filters.town_id is not None:
        return DEFAULT_COMPARE["town_government"]
    return "town"


def _everything(db, filters, by):
    now = utcnow()
    report = mining.cycle_time_report(db, filters, now=now, limit=10)
    definition = latest_definition(db, PROCESS_KEY, required=False)
    due = due_periods(definition.bpmn_xml) if definition else {}
    extra = decision_report(db, filters, due, by, now=now)
    extra["conformance"] = conformance_report(db, filters, now=now)
    return report, extra, report_tables(report, extra, scope_names(db))


@bp.get("/")
@login_required
def dashboard():
    filters = scope_filter()
    by = _compare_by(filters)
    with unit(readonly=True) as db:
        report, extra, tables = _everything(db, filters, by)
    heat = {a["activity_id"]: {"mean": a["total"]["mean"] or 0, "n": a["rows"], "text": seconds(a["total"]["mean"])}
            for a in report["activities"] if a["total"]["mean"] is not None}
    longest = max((a["total"]["max"] or 0 for a in report["activities"]), default=0) or 1
    return render_template("mining/dashboard.html", report=report, heat_words=heat, longest=longest,
                           heat_max=max((h["mean"] for h in heat.values()), default=0),
                           tables={t.key: t for t in tables}, by=by, compare_by=COMPARE_BY, group_label=group_label,
                           formats=list(exports.EXPORTS), process_map=process_map(report), map_labels=map_labels())


def process_map(report):
    """The directly-follows graph for the page's map: tasks with their completions, arrows with words."""
    nodes = [{"id": a["activity_id"], "name": task_title(a["activity_name"] or a["activity_id"]), "step": a["step"],
              "count": a["completed"]} for a in report["activities"] if a["completed"]]
    edges = [{"source": e["source"], "target": e["target"], "count": e["count"], "cases": e["cases"],
              "mean": e["mean"], "text": seconds(e["mean"])} for e in report["directly_follows"]]
    return {"nodes": nodes, "edges": edges}


def map_labels():
    """The map's words, with ``{n}``, ``{shown}``, ``{total}`` filled in by the script."""
    return {"times": _("{n} times"), "shown": _("{shown} of {total} paths shown"),
            "cases": _("Projects in which “{source}” was directly followed by “{target}”"),
            "loading": _("Loading…"), "none": _("No projects."), "failed": _("Could not load the projects."),
            "project": _("Project"), "status": _("Status"), "times_head": _("Times"), "gap": _("Time between (mean)"),
            "empty": _("No finished tasks yet: the map appears once projects have moved on.")}


@bp.get("/edge")
@login_required
def edge_cases():
    """The projects (in one's scope) in which one task was directly followed by another, as JSON."""
    filters = scope_filter()
    source, target = request.args.get("source", ""), request.args.get("target", "")
    if not source or not target:
        message = _("Say which arrow: a task it starts from and one it leads to.")
        raise ValidationError(message, errors={"source": [message]})
    with unit(readonly=True) as db, log_view(db, filters, now=utcnow()) as view:
        rows = mining.edge_cases(view, source, target)
    return jsonify({"cases": [{"title": r["title"] or _("Project %(id)s", id=r["instance_id"]),
                               "url": url_for("instances.show", instance_id=r["instance_id"]),
                               "status": str(STATUS_LABELS.get(r["status"], r["status"])), "times": r["times"],
                               "gap": seconds(r["mean"])} for r in rows]})


@bp.app_template_filter("epoch_date")
def epoch_date(value):
    """A date from epoch seconds (UTC), in the reader's language."""
    if value is None:
        return "—"
    return format_date(datetime.fromtimestamp(float(value), timezone.utc).replace(tzinfo=None), "medium")


@bp.get("/report.xlsx")
@login_required
def report_xlsx():
    """Every table of the dashboard, one sheet each, with headings in the reader's language."""
    filters = scope_filter()
    by = _compare_by(filters)
    with unit(readonly=True) as db:
        _report, _extra, tables = _everything(db, filters, by)
    return Response(workbook_bytes(tables), mimetype=XLSX,
                    headers={"Content-Disposition": 'attachment; filename="sanshe-mining.xlsx"'})


@bp.get("/tables/<key>.csv")
@login_required
def table_csv(key):
    """One table of the dashboard as CSV that Excel opens in Chinese (UTF-8 with a byte order mark)."""
    filters = scope_filter()
    by = _compare_by(filters)
    with unit(readonly=True) as db:
        _report, _extra, tables = _everything(db, filters, by)
    table = next((t for t in tables if t.key == key), None)
    if table is None:
        raise NotFoundError(_("There is no such table."))
    return Response(csv_bytes(table), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="sanshe-{key}.csv"'})


@bp.get("/diagram.bpmn")
@login_required
def diagram():
    scope_filter()
    with unit(readonly=True) as db:
        xml = latest_definition(db, PROCESS_KEY).bpmn_xml
    return Response(xml, mimetype="application/xml")


@bp.get("/export.<fmt>")
@login_required
def export(fmt):
    """The log streamed as it is read, so memory stays flat on large logs."""
    filters = scope_filter()
    exports.check_format(fmt)
    _, mimetype, suffix = exports.EXPORTS[fmt]

    def generate():
        with unit(readonly=True) as db:
            yield from exports.iter_export(db, fmt, filters)
    return Response(stream_with_context(generate()), mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=sanshe-log{suffix}"})


@bp.app_template_filter("seconds")
def seconds(value):
    """A duration in seconds in words at its scale: 3天4小时, 5.5小时, 12分钟, 40秒 (or English)."""
    if value is None:
        return "—"
    value = float(value)
    days, rest = divmod(value, 86400)
    if days:
        hours = round(rest / 3600)
        if hours == 24:
            days, hours = days + 1, 0
        if not hours:
            return _("%(d)s d", d=int(days))
        return _("%(d)s d %(h)s h", d=int(days), h=hours)
    if rest >= 3600:
        hours = format(rest / 3600, ".1f")
        return _("%(h)s h", h=hours)
    if rest >= 60:
        return _("%(m)s min", m=round(rest / 60))
    return _("%(s)s s", s=round(rest))
