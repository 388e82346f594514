"""Projects (process instances): start one, list them with filters, follow one's timeline."""
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.core import access, notifications
from engine.method import agreements
from engine.queries import budgets as budget_queries
from engine.queries import deadlines, listings
from engine.queries import notices as notice_board
from engine.queries import project_sheet
from engine.errors import ForbiddenError, ValidationError
from engine.queries.inbox import parse_int, parse_page
from engine.core.models import utcnow

from .catalog import this_year
from .i18n import STATUS_LABELS, STEP_LABELS
from . import presenters
from .context import me, services, unit
from .tasks import sees_screening

bp = Blueprint("instances", __name__)
PROCESS_KEY = "seven_step_project"
COORDINATION = "coordination_requested"


@bp.get("/instances")
@login_required
def index():
    args = request.args
    status = args.get("status") or None
    if status and status not in listings.INSTANCE_STATUSES:
        raise ValidationError(_("Unknown status."), errors={"status": [_("Unknown status.")]})
    filters = {"status": status, "community_id": parse_int(args.get("community")), "town_id": parse_int(args.get("town")),
               "step": parse_int(args.get("step")), "version": parse_int(args.get("version")),
               "process": args.get("process") or None}
    page = parse_page(args.get("page"))
    partial = bool(request.headers.get("HX-Request"))  # the table alone: no filter choices needed
    with unit(readonly=True) as db:
        user = me(db)
        result = listings.list_instances(db, user, page=max(1, page), **filters)
        if partial:
            return render_template("instances/_table.html", result=result, filters=filters, args=args)
        choices = {"communities": listings.communities_for(db, user), "versions": listings.definition_versions(db),
                   "towns": listings.towns_for(db, user)}
        can_start = bool(listings.startable_items(db, user, this_year()))
        on_time = deadlines.on_time_by_step(db, user, utcnow())
    return render_template("instances/index.html", result=result, filters=filters, args=args, choices=choices,
                           can_start=can_start, statuses=listings.INSTANCE_STATUSES, on_time=on_time)


@bp.get("/instances.xlsx")
@login_required
def spreadsheet():
    """The project list (the same filters) as an .xlsx workbook with Chinese headers."""
    args = request.args
    status = args.get("status") or None
    if status and status not in listings.INSTANCE_STATUSES:
        raise ValidationError(_("Unknown status."), errors={"status": [_("Unknown status.")]})
    filters = {"status": status, "community_id": parse_int(args.get("community")),
               "step": parse_int(args.get("step")), "version": parse_int(args.get("version")),
               "process": args.get("process") or None}
    with unit(readonly=True) as db:
        lines = project_sheet.project_lines(db, me(db), **filters)
    headers = {"project": _("Project"), "community": _("Community"), "organization": _("Social organization"),
               "step": _("Current step"), "status": _("Status"), "started": _("Started"), "ended": _("Ended"),
               "decided": _("Amount decided (yuan)"), "paid": _("Paid (yuan)"),
               "unpaid": _("Not yet paid (yuan)")}
    body = project_sheet.workbook(lines, headers, {n: str(label) for n, label in STEP_LABELS.items()},
                                  {k: str(v) for k, v in STATUS_LABELS.items()}, _("Projects"))
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="projects-{utcnow():%Y%m%d}.xlsx"'})


@bp.route("/instances/new", methods=("GET", "POST"))
@login_required
def new():
    if not current_user.has_role("social_organization"):
        raise ForbiddenError(_("Only a social organization starts a project."))
    errors = {}
    if request.method == "POST":
        choice = request.form.get("item", "")
        title = request.form.get("title", "").strip()
        try:
            org_id, item_id = (parse_int(part) for part in choice.split(":"))
        except (ValueError, ValidationError):
            org_id = item_id = None
        if org_id is None or item_id is None:
            errors["item"] = [_("Choose a service item.")]
        if not errors:
            with unit() as db:
                user = me(db)
                project = listings.project_for(db, user, org_id, item_id, title, this_year())
                instance = services().runtime.start_instance(db, PROCESS_KEY, user, project)
                instance_id = instance.id
            flash(_("The project has started."))
            return redirect(url_for("instances.show", instance_id=instance_id))
    with unit(readonly=True) as db:
        items = listings.startable_items(db, me(db), this_year())
    status = 422 if errors else 200
    return render_template("instances/new.html", items=items, errors=errors, form=request.form,
                           year=this_year()), status


@bp.get("/instances/<int:instance_id>")
@login_required
def show(instance_id):
    with unit(readonly=True) as db:
        user = me(db)
        instance = listings.visible_instance(db, user, instance_id)
        definition = listings.definition_of(db, instance)
        timeline = listings.timeline(db, instance, utcnow())
        tasks = listings.instance_tasks(db, instance.id)
        variables = services().runtime.instance_variables(db, instance.id)
        names = listings.display_names(db, {e.event.resource for e in timeline.entries} | {
            t.completed_by for t in tasks} | {instance.started_by} | presenters.usernames_in(variables))
        results = presenters.rule_results(variables, names, applicant_view=not sees_screening(db, user, instance))
        can_call_meeting = (COORDINATION in services().runtime.waiting_messages(db, instance.id) and
                            access.holds_or_admin(db, user, "community_committee", "community", instance.community_id))
        can_terminate = instance.status == "running" and \
            access.holds_or_admin(db, user, "town_government", "town", instance.town_id)
        incidents = listings.instance_incidents(db, instance.id)
        is_admin = access.holds(db, user, "administrator", "global", 0)
        notices = budget_queries.budget_notices(db, instance_id=instance.id)
        keeps_budget = access.holds_or_admin(db, user, "town_government", "town", instance.town_id)
        agreement = agreements.latest_or_none(db, instance.id)
        votes = notice_board.announcements_of(db, instance)
        community_code = notice_board.community_code(db, instance.community_id)
        return render_template("instances/show.html", instance=instance, definition=definition,
                               timeline=timeline, tasks=tasks, names=names, incidents=incidents, is_admin=is_admin,
                               results=results,
                               scope_names=listings.scope_names(db), can_call_meeting=can_call_meeting,
                               can_terminate=can_terminate, notices=notices, keeps_budget=keeps_budget,
                               following=notifications.follows(db, user.username, instance.id),
                               agreement=agreement, votes=votes, community_code=community_code)


@bp.post("/instances/<int:instance_id>/coordination")
@login_required
def call_coordination(instance_id):
    """The community committee calls a coordination meeting during delivery."""
    issue = request.form.get("issue", "").strip()
    if not issue:
        raise ValidationError(_("Describe the problem or dispute."), errors={"issue": [_("Required.")]})
    with unit() as db:
        services().runtime.send_message(db, instance_id, COORDINATION, {"issue": issue}, me(db))
    flash(_("A coordination meeting has been called."))
    return redirect(url_for("instances.show", instance_id=instance_id))


@bp.post("/instances/<int:instance_id>/terminate")
@login_required
def terminate(instance_id):
    """The town government (or an administrator) stops a project; earmarked funds are released."""
    reason = request.form.get("reason", "").strip()
    if not reason:
        raise ValidationError(_("Give a reason."), errors={"reason": [_("Required.")]})
    with unit() as db:
        services().runtime.terminate_instance(db, instance_id, me(db), reason)
    flash(_("The project has been terminated."))
    return redirect(url_for("instances.show", instance_id=instance_id))


@bp.get("/instances/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id):
    with unit(readonly=True) as db:
        instance = listings.visible_instance(db, me(db), instance_id)
        xml = listings.definition_of(db, instance).bpmn_xml
    return Response(xml, mimetype="application/xml")
