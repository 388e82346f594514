"""The administrators' area: process versions (view, download, edit in the modeler, upload,
form editor with live preview, diff, bulk migration), the audit log, and incidents; people,
their roles and affiliations are in ``admin_people``.

Every diagram or form change is validated in full before anything is deployed: on any
error the findings (file, element id, name, line) are shown and nothing is written.
"""
import json
import zipfile
from datetime import datetime, timedelta
from dataclasses import replace
import zlib
from io import BytesIO
from pathlib import PurePath

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.core import audit
from engine.core import migration, migration_runs
from engine.core import scheduler
from engine.core import versions
from engine.core.deployments import deploy, get_definition, lane_roles, with_deployed_forms
from engine.errors import ForbiddenError, NotFoundError, ValidationError
from engine.queries import budgets as budget_queries
from engine.queries.inbox import parse_int, parse_page
from engine.core.jobs import JobQueue
from engine.queries import listings
from engine.core.models import LANE_ROLES
from engine.core.validation import Finding, validate_or_raise

from . import forms as form_fields
from .context import services, settings, unit
from .i18n import translated
from . import auditlog
from .modeler import change_words, designer_text, panel_config, part_words

bp = Blueprint("admin", __name__, url_prefix="/admin")

# An uploaded zip may hold at most this much (uncompressed) and this many files.
MAX_ZIP_BYTES = 20 * 1024 * 1024
MAX_ZIP_FILES = 200


@bp.before_request
def administrators_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # pyright: ignore[reportAttributeAccessIssue] (set by flask-login)
    if not current_user.has_role("administrator"):
        raise ForbiddenError(_("Only administrators can open this page."))
    return None


def known_roles_and_topics():
    """What diagrams may use: the lanes (roles), the topics some worker handles, and the
    values each topic's parameters allow."""
    from workers.registry import PARAMETER_CHECKS, TOPICS  # the web app is an entry layer: it may know the workers

    return LANE_ROLES, set(TOPICS), PARAMETER_CHECKS


def deploy_checked(db, bpmn_files, forms):
    """Validate the whole bundle (all findings at once), then deploy it.

    ``forms`` may hold JSON text (a syntax error becomes a finding with its line).
    Returns ``[(definition, created)]``; raises ValidationError with ``findings``.
    """
    roles, topics, parameter_checks = known_roles_and_topics()
    validate_or_raise(bpmn_files, forms, roles, topics, parameter_checks)
    parsed = {name: json.loads(form) if isinstance(form, (str, bytes)) else form for name, form in forms.items()}
    return deploy(db, services().runtime.spec_cache, bpmn_files, parsed, current_user.username)


def findings_of(exc):
    """The findings to show for a refused bundle, in the user's language (a plain message
    becomes one finding)."""
    return [replace(f, message=translated(f.message)) for f in exc.findings] or [
        Finding(file="", message=translated(exc.message))]


def wants_json():
    return request.accept_mimetypes.best == "application/json"


# --- process versions ---------------------------------------------------------------------

@bp.get("/")
def index():
    with unit(readonly=True) as db:
        processes = {}
        for definition, running in versions.versions_overview(db):
            processes.setdefault(definition.key, []).append((definition, running))
        return render_template("admin/index.html", processes=processes)


@bp.get("/definitions/<int:definition_id>")
def definition(definition_id):
    with unit(readonly=True) as db:
        found = get_definition(db, definition_id)
        running = versions.running_counts(db).get(found.id, 0)
        previous = versions.previous_version(db, found)
        return render_template("admin/definition.html", definition=found, running=running,
                               previous=previous)


@bp.get("/definitions/<int:definition_id>/diagram.bpmn")
def diagram(definition_id):
    with unit(readonly=True) as db:
        found = get_definition(db, definition_id)
        xml, filename = found.bpmn_xml, f"{found.key}-v{found.version}.bpmn"
    response = Response(xml, mimetype="application/xml")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/definitions/<int:definition_id>/form-files/<path:name>")
def form_file(definition_id, name):
    with unit(readonly=True) as db:
        schema = (get_definition(db, definition_id).forms or {}).get(name)
    if schema is None:
        raise NotFoundError(_("No such form in this version."))
    response = Response(json.dumps(schema, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{PurePath(name).name}"'
    return response


@bp.route("/definitions/<int:definition_id>/edit", methods=("GET", "POST"))
def edit(definition_id):
    """The bpmn-js modeler; saving posts the XML (and any new form files) as a new version."""
    with unit(readonly=True) as db:
        base = get_definition(db, definition_id)
        base_file, base_forms = base.bpmn_file, dict(base.forms or {})
    if request.method == "GET":
        return render_template("admin/edit.html", definition=base, panel=edit_panel(base), designer=designer_text())
    xml = request.form.get("bpmn_xml", "")
    designed = dict(zip(request.form.getlist("new_form_name"), request.form.getlist("new_form_schema")))
    forms = {**base_forms, **designed, **uploaded_forms(request.files.getlist("forms"))}
    try:
        with unit() as db:
            [(saved, created)] = deploy_checked(db, {base_file: xml}, forms)
            result = {"id": saved.id, "version": saved.version, "created": created, "key": saved.key}
    except ValidationError as exc:
        findings = findings_of(exc)
        if wants_json():
            return jsonify(ok=False, message=translated(exc.message), findings=[vars(f) for f in findings]), 422
        return render_template("admin/edit.html", definition=base, findings=findings, xml=xml,
                               panel=edit_panel(base), designer=designer_text()), 422
    url = url_for("admin.definition", definition_id=result["id"])
    message = (_("Saved as version %(v)s.", v=result["version"]) if result["created"]
               else _("Nothing changed: version %(v)s is identical.", v=result["version"]))
    if wants_json():
        return jsonify(ok=True, url=url, message=message, **result)
    flash(message)
    return redirect(url, code=303)


def edit_panel(base):
    """The side panel's choices for editing ``base`` (see ``webui.modeler``)."""
    _roles, topics, _checks = known_roles_and_topics()
    config = panel_config(dict(base.forms or {}), topics)
    # Lanes keep their role in a property once the deployed diagram does; until then the
    # saved diagram names each lane by its role key.
    config["laneRoleProperty"] = bool(lane_roles(base.bpmn_xml))
    return config


def uploaded_forms(files):
    """``{name: JSON text}`` of uploaded form files (their JSON is checked by validation)."""
    return {PurePath(f.filename).name: f.read().decode("utf-8", errors="replace")
            for f in files if f and f.filename}


@bp.route("/upload", methods=("GET", "POST"))
def upload():
    """Diagrams with their form files, chosen one by one or as one zip."""
    if request.method == "GET":
        return render_template("admin/upload.html")
    try:
        bpmn_files, forms = read_upload(request.files.getlist("files"))
        with unit() as db:
            forms = with_deployed_forms(db, bpmn_files, forms)
            results = [(d.key, d.version, d.id, created) for d, created in deploy_checked(db, bpmn_files, forms)]
    except ValidationError as exc:
        return render_template("admin/upload.html", findings=findings_of(exc)), 422
    for key, version, _id, created in results:
        flash(_("%(key)s: version %(v)s deployed.", key=key, v=version) if created
              else _("%(key)s: unchanged (version %(v)s).", key=key, v=version))
    return redirect(url_for("admin.index"), code=303)


def read_upload(files):
    """``(bpmn_files, forms)`` from uploaded ``.bpmn``/``.json`` files and ``.zip`` archives."""
    bpmn_files, forms = {}, {}

    def take(name, content):
        name = PurePath(name).name
        if name.endswith(".bpmn"):
            bpmn_files[name] = content.decode("utf-8", errors="replace")
        elif name.endswith(".json"):
            forms[name] = content.decode("utf-8", errors="replace")

    for upload in files:
        if not upload or not upload.filename:
            continue
        content = upload.read()
        if upload.filename.lower().endswith(".zip"):
            for name, data in _zip_members(upload.filename, content):
                take(name, data)
        else:
            take(upload.filename, content)
    if not bpmn_files:
        raise ValidationError(_("Choose at least one .bpmn diagram (with its form files, or as a zip)."))
    return bpmn_files, forms


def _zip_members(filename, content):
    try:
        archive = zipfile.ZipFile(BytesIO(content))
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise ValidationError(_("%(f)s is too large to unpack.", f=filename))
        return [(m.filename, archive.read(m)) for m in members]
    # A damaged archive fails only when a member is read (bad CRC, truncated data, an
    # unknown compression method, encryption).
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise ValidationError(_("%(f)s is not a readable zip file (damaged or encrypted).", f=filename)) from exc


# --- forms ---------------------------------------------------------------------------------

@bp.route("/definitions/<int:definition_id>/forms/<path:name>", methods=("GET", "POST"))
def form_editor(definition_id, name):
    """Edit one form's JSON Schema with a live preview; saving deploys a new version."""
    with unit(readonly=True) as db:
        base = get_definition(db, definition_id)
        if name not in (base.forms or {}):
            raise NotFoundError(_("No such form in this version."))
        bpmn_file, xml, forms = base.bpmn_file, base.bpmn_xml, dict(base.forms)
        context = {"definition": base, "name": name, "designer": designer_text()}
        if request.method == "GET":
            text = json.dumps(forms[name], ensure_ascii=False, indent=2)
            return render_template("admin/form.html", text=text, preview=preview_fields(text), **context)
    text = request.form.get("schema", "")
    try:
        with unit() as db:
            [(saved, created)] = deploy_checked(db, {bpmn_file: xml}, {**forms, name: text})
            saved_id, version = saved.id, saved.version
    except ValidationError as exc:
        return render_template("admin/form.html", text=text, preview=preview_fields(text),
                               findings=findings_of(exc), **context), 422
    flash(_("Saved as version %(v)s.", v=version) if created else _("Nothing changed."))
    return redirect(url_for("admin.definition", definition_id=saved_id), code=303)


@bp.post("/forms/preview")
def form_preview():
    """The form as people will see it, rendered from the posted schema text (htmx)."""
    return render_template("admin/_preview.html", preview=preview_fields(request.form.get("schema", "")))


def preview_fields(text):
    """``{"fields": [...]}`` to render, or ``{"error": message}`` when the text is not a schema."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        return {"error": _("Line %(line)s: not valid JSON (%(msg)s).", line=exc.lineno, msg=exc.msg)}
    if not isinstance(schema, dict):
        return {"error": _("A form schema is a JSON object.")}
    return {"fields": form_fields.build_fields(schema, {}), "title": schema.get("title", "")}


# --- versions: diff and migration ------------------------------------------------------------

@bp.get("/diff")
def diff():
    old_id, new_id = parse_int(request.args.get("old")), parse_int(request.args.get("new"))
    if not old_id or not new_id:
        raise ValidationError(_("Choose two versions to compare."))
    with unit(readonly=True) as db:
        result = versions.diff_definitions(db, old_id, new_id)
        return render_template("admin/diff.html", diff=result, old=get_definition(db, old_id),
                               new=get_definition(db, new_id), part_words=part_words)


@bp.get("/migrate")
def migrate():
    """The dry run: per instance, can it move and why not (the move: ``admin_migrations``)."""
    target_id = parse_int(request.args.get("target"))
    from_id = parse_int(request.args.get("from"))
    if not target_id:
        raise ValidationError(_("Choose the version to move projects to."))
    with unit(readonly=True) as db:
        checks = migration.dry_run(db, services().runtime, target_id, from_id)
        return render_template("admin/migrate.html", checks=checks, target=get_definition(db, target_id),
                               from_id=from_id, done=False, change_words=change_words,
                               running=migration_runs.unfinished_run(db, target_id))


@bp.get("/audit")
def audit_log():
    """The audit log in words, filtered by action, person, dates and object."""
    page = parse_page(request.args.get("page"))
    filters = {"action": request.args.get("action") or None, "actor": request.args.get("actor") or None,
               "text": (request.args.get("text") or "").strip() or None}
    since, until = parse_day(request.args.get("since")), parse_day(request.args.get("until"))
    with unit(readonly=True) as db:
        rows, total = audit.entries(db, page=page, action=filters["action"], actor=filters["actor"],
                                    text=filters["text"], since=since,
                                    until=until + timedelta(days=1) if until else None)
        actors = audit.actors(db)
        names = listings.display_names(db, set(actors))
        places = listings.place_names(db)
        return render_template("admin/audit.html", lines=[auditlog.describe(db, e, places) for e in rows], total=total,
                               page=page, per_page=50, actions=[(a, auditlog.action_label(a)) for a in audit.actions(db)],
                               actors=[(a, names.get(a) or a) for a in actors], names=names,
                               since=request.args.get("since") or "", until=request.args.get("until") or "",
                               **filters)


def parse_day(text):
    """A ``YYYY-MM-DD`` date from a filter (None when empty; 400 when not a date)."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise ValidationError(_("Dates are written like 2027-03-01.")) from None


# --- incidents -------------------------------------------------------------------------------

def job_queue():
    return JobQueue(settings(), services().runtime)


@bp.get("/incidents")
def incidents():
    with unit(readonly=True) as db:
        timers = [i for i in listings.instance_incidents(db) if i.kind == "timer"]
        return render_template("admin/incidents.html", jobs=job_queue().incidents(db), timers=timers,
                               notices=budget_queries.budget_notices(db))


@bp.post("/incidents/timers/<int:timer_id>/retry")
def retry_timer(timer_id):
    with unit() as db:
        scheduler.retry_timer(db, timer_id, services().runtime.clock(), actor=current_user.username)
    flash(_("Timer %(id)s will fire at the scheduler's next pass.", id=timer_id))
    return redirect(url_for("admin.incidents"), code=303)


@bp.post("/incidents/<int:job_id>/retry")
def retry(job_id):
    with unit() as db:
        job_queue().retry_incident(db, job_id, actor=current_user.username)
    flash(_("Job %(id)s is queued again.", id=job_id))
    return redirect(url_for("admin.incidents"), code=303)


# The people pages, worker credentials and the trial run live in their own modules, on this blueprint.
from . import admin_migrations, admin_people, admin_trial, admin_workers  # noqa: E402,F401
