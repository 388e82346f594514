"""The trial run (试运行) of the diagram being edited: validated as a save would be, then run
in a sandbox by ``workers.trial`` (nothing is deployed, nothing real is written)."""
import json

from flask import render_template, request
from flask_babel import gettext as _

from engine.core.deployments import get_definition
from engine.core.validation import validate_or_raise
from engine.errors import ValidationError
from workers.trial_sandbox import run_trial  # the web app is an entry layer: it may run the workers

from .admin import bp, findings_of, known_roles_and_topics, uploaded_forms
from .context import services, settings, unit


@bp.post("/definitions/<int:definition_id>/trial")
def trial(definition_id):
    """A trial run (试运行) of the diagram being edited, in a sandbox; deploys nothing."""
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
    report = run_trial(services().db, {base_file: xml}, parsed, trial_choices(request.form), settings=settings())
    return render_template("admin/_trial.html", report=report)


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
