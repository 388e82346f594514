"""The task page: the form from the task's JSON Schema, what the person needs to decide,
the diagram; claim, unclaim, hand over, save a draft, complete; attachments."""
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.core import access, attachments
from engine.queries import listings, next_steps
from engine.core import users
from engine.errors import NotFoundError, ValidationError
from engine.core.hotcache import savepoint
from engine.queries.inbox import overdue, visible_task
from engine.core.models import utcnow
from engine.documents import agreement_pdf
from engine.method import agreements, applications

from . import forms, presenters
from .i18n import task_title, translated
from .context import me, services, settings, unit

bp = Blueprint("tasks", __name__)

def runtime():
    return services().runtime


def task_page_context(db, user, task, data=None, errors=None):
    instance = listings.instance_of(db, task)
    definition = listings.definition_of(db, instance)
    editable = task.state == "ready" and task.claimed_by in (None, user.username)
    schema = runtime().task_form(db, task.id, user) if task.state == "ready" else \
        (definition.forms or {}).get(task.form_key or "", {})
    versions = applications.versions(db, instance.id) if task.bpmn_id in APPLICATION_PAGES else []
    if data is None:
        data = (task.draft or {}) if task.state == "ready" else (task.data or {})
        if task.bpmn_id == applications.REVISING_TASK and task.state == "ready" and not task.draft and versions:
            # A revision opens the current version: change what needs changing, keep the rest.
            data = applications.prefill(schema, versions[-1].data, lambda prop: forms.widget_of(prop) == "file")
    fields = forms.build_fields(schema, data, errors or {})
    earlier = []
    for other in listings.instance_tasks(db, instance.id):
        other_schema = (definition.forms or {}).get(other.form_key or "", {})
        if other.id == task.id or other.state != "completed":
            continue
        secret = other.assignee is not None and other.assignee != user.username
        earlier.append({"task": other, "schema": other_schema, "secret": secret,
                        "fields": [] if secret else forms.build_fields(other_schema, other.data or {})})
    variables = runtime().instance_variables(db, instance.id)
    project = variables.get("project") or {}
    names = listings.display_names(db, presenters.usernames_in(variables) | {
        task.claimed_by, task.assignee, *(e["task"].completed_by for e in earlier)})
    results = presenters.rule_results(variables, names, applicant_view=not sees_screening(db, user, instance))
    handover_to = []
    if task.state == "ready" and task.assignee is None:
        handover_to = [u for u in users.members(db, task.role, task.scope_type, task.scope_id)
                       if u.username != user.username]
    timeline = listings.timeline(db, instance, utcnow())
    agreement = None
    if task.bpmn_id in agreements.SIGNING_TASKS:  # both sides read in full what they sign
        found = agreements.latest_or_none(db, instance.id)
        agreement = agreement_pdf.view_of(db, found) if found is not None else None
    return {
        "agreement": agreement, "application": application_view(definition, versions),
        "task": task, "instance": instance, "schema": schema, "fields": fields,
        "top_errors": forms.unplaced_errors(fields, errors or {}), "editable": editable,
        "earlier": earlier, "project": project, "results": results, "handover_to": handover_to,
        "overdue": overdue(task), "active": timeline.active, "completed": timeline.completed,
        "current": [task.bpmn_id], "names": names,
    }


APPLICATION_PAGES = applications.READING_TASKS | {applications.REVISING_TASK}


def application_view(definition, versions):
    """The current application, its summary and what changed since the version before."""
    if not versions:
        return None
    current = versions[-1]
    previous = versions[-2] if len(versions) > 1 else None
    schema = (definition.forms or {}).get(current.form_key, {})
    return {"version": current, "count": len(versions), "previous": previous,
            "summary": applications.summary(current.data), "fields": forms.build_fields(schema, current.data),
            "changes": applications.diff(previous.data, current.data, schema) if previous else []}


def sees_screening(db, user, instance):
    """Who may read why each organization was (not) found eligible: the community committee,
    the town (government, supervisor) and administrators. The applicant sees its own result only."""
    return (access.holds_or_admin(db, user, "community_committee", "community", instance.community_id)
            or access.holds(db, user, "town_government", "town", instance.town_id)
            or access.holds(db, user, "supervisor", "town", instance.town_id))


@bp.get("/tasks/<task_id>")
@login_required
def show(task_id):
    with unit(readonly=True) as db:
        user = me(db)
        task = visible_task(db, user, task_id)
        return render_template("tasks/show.html", **task_page_context(db, user, task))


def _after_action(task_id, message):
    if request.headers.get("HX-Request"):
        response = Response(status=204)
        response.headers["HX-Refresh"] = "true"
        flash(message)
        return response
    flash(message)
    target = request.form.get("next")
    if target == "inbox":
        return redirect(url_for("inbox.index"))
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id):
    with unit() as db:
        runtime().claims.claim_task(db, task_id, me(db))
    return _after_action(task_id, _("The task is now yours."))


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id):
    with unit() as db:
        runtime().claims.unclaim_task(db, task_id, me(db))
    return _after_action(task_id, _("The task is back in the shared list."))


@bp.post("/tasks/<task_id>/handover")
@login_required
def handover(task_id):
    to = request.form.get("to", "").strip()
    with unit() as db:
        user = me(db)
        visible_task(db, user, task_id)
        if not to:
            raise ValidationError(_("Choose the person to hand the task over to."), errors={"to": [_("Required.")]})
        runtime().claims.hand_over(db, task_id, user, to)
        name = presenters.person(to, listings.display_names(db, {to}))
    flash(_("The task was handed over to %(name)s.", name=name))
    return redirect(url_for("inbox.index"))


def _form_input(db, user, task):
    """The submitted form, its files stored for the task and files sent back checked."""
    return forms.FormInput(request.form, request.files, _file_store(db, user, task),
                           lambda value: attachments.kept_for_task(db, value, task.id))


def _is_file(schema, path):
    """Whether the form field at ``path`` (``a.0.b``) is a file field of ``schema``."""
    prop = schema
    for part in path.split("."):
        if part.isdigit():
            prop = prop.get("items", {})
            continue
        prop = prop.get("properties", {}).get(part, {})
    return forms.widget_of(prop) == "file"


def _file_store(db, user, task):
    folder = settings().attachments_dir

    def store(path, upload, prop):
        content = upload.read()
        upload.close()  # a large upload is spooled to a temporary file
        stored = attachments.store(db, content, upload.filename, user.username,
                                   upload.mimetype or "application/octet-stream",
                                   instance_id=task.instance_id, task_id=task.id, field=path, folder=folder)
        return attachments.reference(stored, text=prop.get("type") == "string")
    return store


@bp.post("/tasks/<task_id>/draft")
@login_required
def draft(task_id):
    with unit() as db:
        user = me(db)
        task = visible_task(db, user, task_id)
        schema = runtime().task_form(db, task_id, user)
        form_input = _form_input(db, user, task)
        data = form_input.parse(schema)
        refused = {path: messages for path, messages in form_input.errors.items() if _is_file(schema, path)}
        if refused:
            # A file that was not kept must not be reported as saved: refuse the draft, so
            # the page says which file and why (the unit of work rolls everything back).
            raise ValidationError(_("The draft was not saved: %(reason)s",
                                    reason=" ".join(translated(m) for ms in refused.values() for m in ms)),
                                  errors=refused)
        runtime().claims.save_draft(db, task_id, user, data)
        # Files replaced or removed in this draft are not kept.
        attachments.prune(db, task.id, attachments.referenced_ids(data))
    if request.headers.get("HX-Request"):
        return render_template("tasks/_saved.html", at=utcnow())
    flash(_("Draft saved."))
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.post("/tasks/<task_id>/complete")
@login_required
def complete(task_id):
    with unit() as db:
        user = me(db)
        task = visible_task(db, user, task_id)
        schema = runtime().task_form(db, task_id, user)
        form_input = _form_input(db, user, task)
        data = form_input.parse(schema)
        try:
            if form_input.errors:
                raise ValidationError(_("Some fields need attention."), errors=form_input.errors)
            with savepoint(db):
                runtime().complete_task(db, task_id, user, data)
                attachments.prune(db, task.id, attachments.referenced_ids(data))
        except ValidationError as exc:
            # Nothing of the step was written. Files uploaded with the refused form are kept,
            # so the form shown again still has them and they need not be chosen again.
            context = task_page_context(db, user, task, data=data, errors=exc.errors or {"": [exc.message]})
            return render_template("tasks/show.html", **context), 422
        next_words = whats_next_words(db, task.instance_id)
    flash(_("Done: “%(name)s” is complete.", name=task_title(task.name)))
    flash(next_words)
    return redirect(url_for("inbox.index"))


def whats_next_words(db, instance_id):
    """Where the project went, in a sentence: who has it now, or which automatic check runs."""
    nxt = next_steps.whats_next(db, instance_id)
    if nxt.status != "running":
        return _("The project has ended: %(outcome)s.", outcome=task_title(nxt.outcome or "")) \
            if nxt.status == "completed" else _("The project was terminated.")
    names = listings.display_names(db, {t.person for t in nxt.tasks if t.person})
    scopes = listings.scope_names(db) if nxt.tasks else {}
    groups = {}
    for t in nxt.tasks:
        groups.setdefault((t.name, t.role, t.scope_type, t.scope_id), []).append(t.person)
    parts = []
    for (name, role, scope_type, scope_id), people in groups.items():
        who = [p for p in people if p]
        if len(who) == 1:
            parts.append(_("%(who)s has “%(task)s”", who=presenters.person(who[0], names), task=task_title(name)))
        elif who:
            parts.append(_("%(n)s people (%(role)s) each have “%(task)s”", n=len(who),
                           role=presenters.role_label(role), task=task_title(name)))
        else:
            parts.append(_("%(role)s of %(scope)s has “%(task)s”", role=presenters.role_label(role),
                           scope=scopes.get((scope_type, scope_id), ""), task=task_title(name)))
    if nxt.automatic:
        parts.append(_("%(system)s runs: %(checks)s", system=presenters.AUTOMATIC,
                       checks=_(", ").join(task_title(n) for n in nxt.automatic)))
    if not parts:
        return _("Next: the project waits for an event (a timer or a message).")
    return _("Next: %(what)s.", what=_("; ").join(parts))


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id):
    with unit(readonly=True) as db:
        user = me(db)
        stored, content = attachments.load(db, attachment_id)
        if stored.instance_id is None:
            if stored.uploaded_by != user.username:
                raise NotFoundError(_("No such file."))
        else:
            listings.visible_instance(db, user, stored.instance_id)
    response = Response(content, mimetype=stored.content_type)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(stored.filename)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


