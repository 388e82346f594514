"""The purchase agreement as a document: read it in full, download its PDF once both sides
signed, check a copy against the seal; administrators keep each town's agreement text."""
from io import BytesIO

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required

from engine.core.models import utcnow
from engine.documents import agreement_pdf
from engine.errors import ForbiddenError, ValidationError
from engine.method import agreement_text, agreements
from engine.queries import listings

from .context import me, unit

PLACE_LABELS = {
    "number": lazy_gettext("agreement number"), "purchaser": lazy_gettext("the town (purchaser)"),
    "contractor": lazy_gettext("the organization (contractor)"),
    "credit_code": lazy_gettext("the organization's unified social credit code"),
    "community": lazy_gettext("the community"), "project": lazy_gettext("the project's title"),
    "service_item": lazy_gettext("the service item"), "service_field": lazy_gettext("the service field"),
    "goals": lazy_gettext("goals from the approved application"),
    "expected_effect": lazy_gettext("expected effect from the approved application"),
    "phases": lazy_gettext("phases and steps from the approved application, one per line"),
    "amount": lazy_gettext("the amount in figures (yuan)"),
    "amount_capital": lazy_gettext("the amount in Chinese capitals"),
    "installments": lazy_gettext("the installments with their conditions, one per line"),
    "acceptance_criteria": lazy_gettext("the acceptance criteria, one per line"),
    "term_start": lazy_gettext("start of the service term"), "term_end": lazy_gettext("end of the service term"),
}

bp = Blueprint("agreements", __name__)
MAX_PDF_BYTES = 20 * 1024 * 1024


def visible_agreement(db, user, agreement_id):
    """The agreement, if its project is one the person may see (NotFound/Forbidden otherwise)."""
    agreement = agreements.find(db, agreement_id)
    listings.visible_instance(db, user, agreement.instance_id)
    return agreement


@bp.get("/agreements/<int:agreement_id>")
@login_required
def show(agreement_id):
    with unit(readonly=True) as db:
        agreement = visible_agreement(db, me(db), agreement_id)
        view = agreement_pdf.view_of(db, agreement)
        instance = listings.visible_instance(db, me(db), agreement.instance_id)
        return render_template("agreements/show.html", view=view, instance=instance)


@bp.get("/agreements/<int:agreement_id>.pdf")
@login_required
def pdf(agreement_id):
    with unit() as db:
        agreement = visible_agreement(db, me(db), agreement_id)
        document = agreement_pdf.document_of(db, agreement, utcnow())
        content, number = document.pdf, agreement.number
    return send_file(BytesIO(content), mimetype="application/pdf", as_attachment=True,
                     download_name=f"购买服务协议-{number}.pdf")


@bp.route("/agreements/verify", methods=("GET", "POST"))
@login_required
def verify():
    verdict, errors = None, {}
    if request.method == "POST":
        upload = request.files.get("file")
        value = request.form.get("hash", "").strip()
        try:
            with unit(readonly=True) as db:
                if upload is not None and upload.filename:
                    data = upload.read(MAX_PDF_BYTES + 1)
                    if len(data) > MAX_PDF_BYTES:
                        raise ValidationError(_("The file is larger than 20 MB."), errors={"file": [_("Too large.")]})
                    verdict = agreement_pdf.check_file(db, data)
                elif value:
                    verdict = agreement_pdf.check_hash(db, value)
                else:
                    raise ValidationError(_("Choose a PDF or enter a hash."),
                                          errors={"file": [_("Choose a PDF or enter a hash.")]})
        except ValidationError as exc:
            errors = {"": [exc.message]}  # the sentence; the field lists hold the refused values
    status = 422 if errors else 200
    return render_template("agreements/verify.html", verdict=verdict, errors=errors,
                           value=request.form.get("hash", "")), status


def administrators_only():
    if not current_user.has_role("administrator"):
        raise ForbiddenError(_("Only administrators can open this page."))


@bp.get("/admin/agreement-texts")
@login_required
def templates():
    administrators_only()
    with unit(readonly=True) as db:
        towns = agreement_text.towns_and_templates(db)
        names = listings.display_names(db, {row.updated_by for _, row in towns if row})
        return render_template("agreements/templates.html", towns=towns, names=names)


@bp.route("/admin/agreement-texts/<int:town_id>", methods=("GET", "POST"))
@login_required
def edit_template(town_id):
    administrators_only()
    errors, body = {}, None
    if request.method == "POST":
        body = request.form.get("body", "")
        try:
            with unit() as db:
                agreement_text.town(db, town_id)
                agreement_text.set_template(db, town_id, body, me(db).username, utcnow())
            flash(_("The agreement text is saved. Agreements drafted from now on use it."))
            return redirect(url_for("agreements.templates"))
        except ValidationError as exc:
            errors = {"body": [exc.message, *[str(m) for m in (exc.errors or {}).get("body", [])]]}
    with unit(readonly=True) as db:
        town = agreement_text.town(db, town_id)
        stored = agreement_text.stored_template(db, town_id)
        if body is None:
            body = stored.body if stored else agreement_text.DEFAULT_TEMPLATE
        return render_template("agreements/edit_template.html", town=town, body=body, errors=errors,
                               places=agreement_text.PLACES, required=agreement_text.REQUIRED_PLACES, PLACE_LABELS=PLACE_LABELS,
                               own=stored is not None), 422 if errors else 200


