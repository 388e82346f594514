"""The trial run (试运行) of the diagram being edited: validated as a save would be, then run
in a sandbox by ``workers.trial_sandbox`` (nothing is deployed, nothing real is written).

Run by itself, the draft goes to its end at once. Step by step, the sandbox is kept and
the administrator acts on each step: completes a task with data typed into its form or made
from it, moves the sandbox clock to the next timer, sends a message the project waits for,
or lets it run on."""
import json

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from engine.core.deployments import get_definition
from engine.core.validation import validate_or_raise
from engine.errors import NotFoundError, ValidationError
# The web app is an entry layer: it may run the workers.
from workers.trial import element_names, message_events
from workers.trial_sandbox import SAMPLE_FILE_NAME, Sandbox, decisions, run_trial

from . import forms as form_fields
from .admin import bp, findings_of, known_roles_and_topics, uploaded_forms
from .context import services, settings, unit
from .i18n import translated

STEP_ACTIONS = ("complete", "fill", "timer", "message", "run")


@bp.post("/definitions/<int:definition_id>/trial")
def trial(definition_id):
    """A trial run (试运行) of the diagram being edited, in a sandbox; deploys nothing.
    ``mode=steps`` keeps the sandbox and stops where a person acts."""
    with unit(readonly=True) as db:
        base = get_definition(db, definition_id)
        base_file, base_forms = base.bpmn_file, dict(base.forms or {})
    xml = request.form.get("bpmn_xml", "")
    designed = dict(zip(request.form.getlist("new_form_name"), request.form.getlist("new_form_schema")))
    forms = {**base_forms, **designed, **uploaded_forms(request.files.getlist("forms"))}
    roles, topics, parameter_checks = known_roles_and_topics()
    try:
        validate_or_raise({base_file: xml}, forms, roles, topics, parameter_checks)
    except ValidationError as exc:
        return render_template("admin/_trial.html", findings=findings_of(exc)), 422
    parsed = {name: json.loads(form) if isinstance(form, (str, bytes)) else form for name, form in forms.items()}
    choices = trial_choices(request.form)
    if request.form.get("mode") != "steps":
        report = run_trial(services().db, {base_file: xml}, parsed, choices, settings=settings())
        return render_template("admin/_trial.html", report=report)
    sandbox = Sandbox.create(services().db, {base_file: xml}, parsed, admin=current_user.username,
                             settings=settings())
    try:
        sandbox.run_on(choices, stop_at_people=True)
        return _page(sandbox)
    finally:
        sandbox.close()


@bp.post("/trial/<token>/step")
def trial_step(token):
    """One step of a trial run kept in its sandbox (``action``: complete a task with data made
    from its form, fill one in by hand, move the clock to the next timer, send a message,
    run on). Refused input is shown with its reasons and changes nothing."""
    action = request.form.get("action", "")
    if action not in STEP_ACTIONS:
        raise ValidationError(_("Choose what the trial run does next."))
    sandbox = Sandbox.open(token, settings())
    try:
        if sandbox.state.get("admin") != current_user.username:
            raise NotFoundError(_("This trial run is no longer there; start a new one."))
        task_id = request.form.get("task_id", "")
        if action == "complete":
            sandbox.complete(task_id)
        elif action == "fill":
            form = dict(next((f for t, f in sandbox.open_tasks() if t.task_id == task_id), None) or {})
            if not form:
                raise ValidationError(_("This task is no longer open in the trial run."))
            typed = form_fields.FormInput(request.form)
            data = typed.parse(form, prefix="sample.")
            try:
                if typed.errors:
                    raise ValidationError(_("Some fields need attention."), errors=typed.errors)
                sandbox.complete(task_id, data)
            except ValidationError as exc:
                errors = {f"sample.{path}" if path and not path.startswith("sample.") else path: messages
                          for path, messages in (exc.errors or {"": [exc.message]}).items()}
                return _page(sandbox, refused={"task_id": task_id, "data": data, "errors": errors,
                                               "message": translated(exc.message)}), 422
        elif action == "timer":
            sandbox.advance_clock()
        elif action == "message":
            sandbox.send_message(request.form.get("message", ""))
        else:
            sandbox.run_on(trial_choices(request.form))
        return _page(sandbox)
    finally:
        sandbox.close()


def _page(sandbox, refused=None):
    """The report so far with what the administrator can do next."""
    refused = refused or {}
    report = sandbox.report()
    xml = sandbox.state["xml"]
    report.decisions = decisions(xml, sandbox.state["forms"], {})
    names = element_names(xml)
    waiting = message_events(xml)
    steps = {"token": sandbox.token, "refused": refused, "tasks": [], "timer": None,
             "messages": [(name, waiting.get(name, name)) for name in sandbox.waiting_messages()]}
    if report.status == "running":
        for met, form in sandbox.open_tasks():
            fields = []
            if form is not None:
                mine = refused.get("task_id") == met.task_id
                fields = form_fields.build_fields(form, refused["data"] if mine else {},
                                                  refused["errors"] if mine else {}, prefix="sample.")
            steps["tasks"].append({"met": met, "fields": fields, "can": form is not None})
        due = sandbox.next_timer()
        if due is not None:
            steps["timer"] = {"due": due, "name": names.get(sandbox.next_timer_element() or "", "")}
    steps["now"] = sandbox.clock.now
    steps["message_names"] = waiting
    return render_template("admin/_trial.html", report=report, steps=steps, sample_file_name=SAMPLE_FILE_NAME)


def trial_choices(form):
    """``{field: value}`` the administrator chose for a trial run (``choice.<field>`` as JSON)."""
    choices = {}
    for key, text in form.items():
        if key.startswith("choice."):
            try:
                choices[key[len("choice."):]] = json.loads(text)
            except json.JSONDecodeError:
                raise ValidationError(_("Choose one of the offered values.")) from None
    return choices
