"""Minutes, records and reports from the task data, and payment notices: each as a printable
page and as a PDF."""
from urllib.parse import quote

from flask import Blueprint, Response, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required
from markupsafe import Markup

from engine.core.models import utcnow
from engine.documents.pdf import render_pdf
from engine.errors import NotFoundError
from engine.method.numerals import capital_amount
from engine.queries import documents, listings

from . import forms
from .context import me, unit
from .i18n import INSTALLMENT_LABELS

bp = Blueprint("documents", __name__)

TITLES = {
    "consultation_minutes": lazy_gettext("Consultation meeting minutes"),
    "coordination_minutes": lazy_gettext("Coordination meeting minutes"),
    "supervision_before": lazy_gettext("Supervision record (before delivery)"),
    "supervision_during": lazy_gettext("Supervision record (during delivery)"),
    "supervision_after": lazy_gettext("Supervision record (after delivery)"),
    "self_evaluation_report": lazy_gettext("Self-evaluation report"),
    "case_study": lazy_gettext("Social-work case study"),
}
NUMBERED = {"consultation_minutes", "coordination_minutes"}


def document_title(doc: documents.TaskDocument) -> str:
    title = str(TITLES[doc.kind])
    return _("%(title)s (round %(n)s)", title=title, n=doc.number) if doc.kind in NUMBERED else title


def pdf_of(instance, title, body) -> bytes:
    """A document's body as an A4 PDF."""
    return render_pdf(render_template("documents/print.html", title=title, body=Markup(body), instance=instance,
                                      made_at=utcnow()))


def _respond(instance, title, body, pdf_url, as_pdf):
    if as_pdf:
        response = Response(pdf_of(instance, title, body), mimetype="application/pdf")
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(f'{title}-{instance.id}.pdf')}"
        return response
    return render_template("documents/page.html", title=title, body=Markup(body), instance=instance, pdf_url=pdf_url)


def _task_document(instance_id, task_id, as_pdf):
    with unit(readonly=True) as db:
        user = me(db)
        instance = listings.visible_instance(db, user, instance_id)
        doc = documents.task_document(db, instance.id, task_id)
        if doc.task.assignee is not None and doc.task.assignee != user.username:
            raise NotFoundError(_("Project %(id)s has no such document.", id=instance_id))
        title, body = task_parts(db, instance, doc)
        return _respond(instance, title, body, url_for("documents.task_pdf", instance_id=instance.id,
                                                       task_id=task_id), as_pdf)


def task_parts(db, instance, doc):
    """(title, body HTML) of a minutes, record or report written in a task."""
    schema = (listings.definition_of(db, instance).forms or {}).get(doc.task.form_key or "", {})
    names = listings.display_names(db, {doc.task.completed_by})
    title = document_title(doc)
    return title, render_template("documents/_task.html", doc=doc, title=title, instance=instance, names=names,
                                  fields=forms.build_fields(schema, doc.task.data or {}))


def evaluation_parts(db, instance):
    report = documents.evaluation_report(db, instance.id)
    definition = listings.definition_of(db, instance)
    panel_fields = []
    if report.panel is not None:
        schema = (definition.forms or {}).get(report.panel.form_key or "", {})
        panel_fields = forms.build_fields(schema, report.panel.data or {})
    names = listings.display_names(db, {report.panel.completed_by} if report.panel else set())
    title = _("Evaluation report")
    return title, render_template("documents/_evaluation.html", r=report, instance=instance, names=names,
                                  panel_fields=panel_fields, title=title)


def payment_parts(instance, notice):
    label = INSTALLMENT_LABELS.get(notice.label, notice.label)
    title = _("Payment notice: %(installment)s", installment=label)
    return title, render_template("documents/_payment.html", n=notice, instance=instance, label=label, title=title,
                                  capitals=capital_amount(notice.amount_fen))


@bp.get("/instances/<int:instance_id>/documents/<task_id>")
@login_required
def task_page(instance_id, task_id):
    return _task_document(instance_id, task_id, as_pdf=False)


@bp.get("/instances/<int:instance_id>/documents/<task_id>.pdf")
@login_required
def task_pdf(instance_id, task_id):
    return _task_document(instance_id, task_id, as_pdf=True)


def _evaluation(instance_id, as_pdf):
    with unit(readonly=True) as db:
        instance = listings.visible_instance(db, me(db), instance_id)
        title, body = evaluation_parts(db, instance)
        return _respond(instance, title, body, url_for("documents.evaluation_pdf", instance_id=instance.id), as_pdf)


@bp.get("/instances/<int:instance_id>/evaluation-report")
@login_required
def evaluation_page(instance_id):
    return _evaluation(instance_id, as_pdf=False)


@bp.get("/instances/<int:instance_id>/evaluation-report.pdf")
@login_required
def evaluation_pdf(instance_id):
    return _evaluation(instance_id, as_pdf=True)


def _payment(instance_id, installment, as_pdf):
    with unit(readonly=True) as db:
        instance = listings.visible_instance(db, me(db), instance_id)
        title, body = payment_parts(instance, documents.payment_notice(db, instance.id, installment))
        return _respond(instance, title, body, url_for("documents.payment_pdf", instance_id=instance.id,
                                                       installment=installment), as_pdf)


@bp.get("/instances/<int:instance_id>/payments/<int:installment>")
@login_required
def payment_page(instance_id, installment):
    return _payment(instance_id, installment, as_pdf=False)


@bp.get("/instances/<int:instance_id>/payments/<int:installment>.pdf")
@login_required
def payment_pdf(instance_id, installment):
    return _payment(instance_id, installment, as_pdf=True)
