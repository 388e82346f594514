"""The project record (项目档案): one page per project with its outcome, money, documents,
submitted forms, attachments and timeline; printable, as one PDF, or as a zip of PDFs and
attachments for the archive."""
import io
import zipfile
from urllib.parse import quote

from flask import Blueprint, Response, render_template

from flask_login import login_required

from engine.core import attachments as attachment_store
from engine.core.models import utcnow
from engine.documents import agreement_pdf
from engine.method import applications
from engine.documents.pdf import render_pdf
from engine.queries import documents, listings
from engine.queries.record import project_record

from . import forms, presenters
from .i18n import INSTALLMENT_LABELS
from .context import me, services, unit
from .notices import announcement_parts
from .documents import document_title, evaluation_parts, payment_parts, pdf_of, task_parts

bp = Blueprint("records", __name__)


def submitted_forms(db, user, instance, definition):
    """Every completed task's form, read-only; ballots and scores of others stay confidential."""
    shown = []
    for task in listings.instance_tasks(db, instance.id):
        if task.state != "completed":
            continue
        schema = (definition.forms or {}).get(task.form_key or "", {})
        secret = task.assignee is not None and task.assignee != user.username
        shown.append({"task": task, "secret": secret,
                      "fields": [] if secret else forms.build_fields(schema, task.data or {})})
    return shown


def record_context(db, user, instance_id):
    instance = listings.visible_instance(db, user, instance_id)
    definition = listings.definition_of(db, instance)
    record = project_record(db, instance)
    timeline = listings.timeline(db, instance, utcnow())
    submitted = submitted_forms(db, user, instance, definition)
    variables = services().runtime.instance_variables(db, instance.id)
    names = listings.display_names(db, {e.event.resource for e in timeline.entries} | {
        s["task"].completed_by for s in submitted} | {a.uploaded_by for a in record.attachments} |
        {instance.started_by} | presenters.usernames_in(variables))
    written = [(doc, document_title(doc)) for doc in documents.task_documents(db, instance.id)]
    versions = applications.versions(db, instance.id)
    changed = [[] if number == 0 else [c.schema for c in applications.diff(
        versions[number - 1].data, version.data, (definition.forms or {}).get(version.form_key, {}))]
        for number, version in enumerate(versions)]
    return {"r": record, "instance": instance, "written": written, "versions": list(zip(versions, changed)),
            "payment_notices": documents.payment_notices(db, instance.id), "timeline": timeline, "submitted": submitted, "names": names,
            "made_at": utcnow(), "INSTALLMENT_LABELS": INSTALLMENT_LABELS}


def _filename(instance, suffix):
    return f"项目档案-{instance.id}-{instance.title[:40]}.{suffix}".replace("/", "_")


def _download(content, mimetype, filename):
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


@bp.get("/instances/<int:instance_id>/record")
@login_required
def show(instance_id):
    with unit(readonly=True) as db:
        return render_template("records/show.html", **record_context(db, me(db), instance_id))


@bp.get("/instances/<int:instance_id>/record.pdf")
@login_required
def pdf(instance_id):
    with unit(readonly=True) as db:
        context = record_context(db, me(db), instance_id)
        html = render_template("records/print.html", **context)
    return _download(render_pdf(html), "application/pdf", _filename(context["instance"], "pdf"))


@bp.get("/instances/<int:instance_id>/record.zip")
@login_required
def archive(instance_id):
    """The record's PDF, the signed agreement's PDF and every attachment, in one zip."""
    with unit() as db:  # the agreement's PDF is made (once) if it was never asked for
        user = me(db)
        context = record_context(db, user, instance_id)
        record = context["r"]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive_file:
            archive_file.writestr("项目档案.pdf", render_pdf(render_template("records/print.html", **context)))
            if record.agreement is not None and record.agreement.status == "signed":
                document = agreement_pdf.document_of(db, record.agreement, utcnow())
                archive_file.writestr(f"购买服务协议-{record.agreement.number}.pdf", document.pdf)
            for vote in record.votes:
                title, body = announcement_parts(record.instance, vote)
                archive_file.writestr(f"文书/{title}.pdf", pdf_of(record.instance, title, body))
            for number, (doc, _title) in enumerate(context["written"], start=1):
                if doc.task.assignee is None or doc.task.assignee == user.username:
                    title, body = task_parts(db, record.instance, doc)
                    archive_file.writestr(f"文书/{number:02d}-{title}.pdf", pdf_of(record.instance, title, body))
            if record.acceptance is not None:
                title, body = evaluation_parts(db, record.instance)
                archive_file.writestr(f"文书/{title}.pdf", pdf_of(record.instance, title, body))
            for notice in context["payment_notices"]:
                title, body = payment_parts(record.instance, notice)
                archive_file.writestr(f"文书/{title}.pdf", pdf_of(record.instance, title, body))
            for stored in record.attachments:
                _, content = attachment_store.load(db, stored.id)
                archive_file.writestr(f"附件/{stored.id}-{stored.filename}", content)
    return _download(buffer.getvalue(), "application/zip", _filename(context["instance"], "zip"))
