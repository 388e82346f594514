"""Process mining dashboard: cycle times per step and activity, rework, variants, slow
cases, a heatmap on the diagram, and the log as XES, CSV or OCEL — each person in their scope."""
from flask import Blueprint, Response, render_template, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.mining import exports
from engine.mining import cycle_times as mining
from engine.core.deployments import latest_definition
from engine.errors import ForbiddenError
from engine.mining.logview import LogFilter
from engine.core.models import utcnow

from .context import unit

bp = Blueprint("mining", __name__, url_prefix="/mining")
PROCESS_KEY = "seven_step_project"


def scope_filter():
    """The part of the log the signed-in person may mine: their town, their community, or all."""
    if current_user.has_role("administrator"):
        return LogFilter(process=PROCESS_KEY)
    for role, scope_type, scope_id in sorted(current_user.grants):
        if role == "town_government":
            return LogFilter(process=PROCESS_KEY, town_id=scope_id)
        if role == "community_committee":
            return LogFilter(process=PROCESS_KEY, community_id=scope_id)
    raise ForbiddenError(_("Process mining is for town governments, community committees and administrators."))


@bp.get("/")
@login_required
def dashboard():
    filters = scope_filter()
    with unit(readonly=True) as db:
        report = mining.cycle_time_report(db, filters, now=utcnow(), limit=10)
    heat = {a["activity_id"]: {"mean": a["total"]["mean"], "n": a["rows"]} for a in report["activities"]}
    longest = max((a["total"]["max"] or 0 for a in report["activities"]), default=0) or 1
    return render_template("mining/dashboard.html", report=report, heat=heat, longest=longest,
                           formats=list(exports.EXPORTS))


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
    if fmt not in exports.EXPORTS:
        exports.iter_export(None, fmt)  # raises the validation error naming the formats
    _, mimetype, suffix = exports.EXPORTS[fmt]

    def generate():
        with unit(readonly=True) as db:
            yield from exports.iter_export(db, fmt, filters)
    return Response(stream_with_context(generate()), mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=sanshe-log{suffix}"})


@bp.app_template_filter("seconds")
def seconds(value):
    """A duration in seconds, readable at its scale (``3d 4h``, ``5.5h``, ``12min``, ``40s``)."""
    if value is None:
        return "—"
    value = float(value)
    days, rest = divmod(value, 86400)
    if days:
        return f"{int(days)}d {rest / 3600:.0f}h"
    if rest >= 3600:
        return f"{rest / 3600:.1f}h"
    return f"{rest / 60:.0f}min" if rest >= 60 else f"{rest:.0f}s"
