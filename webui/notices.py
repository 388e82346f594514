"""Vote announcements (表决结果公告) and each community's public notice board (公示栏).

The notice board is read without signing in: residents see what was decided. It shows the
public facts only (project, organization, amount, result, dates).
"""
from urllib.parse import quote

from flask import Blueprint, Response, render_template
from flask_babel import gettext as _
from flask_login import login_required

from engine.core.models import utcnow
from engine.queries import listings, notices

from .context import me, unit
from .documents import pdf_of

bp = Blueprint("notices", __name__)


@bp.get("/instances/<int:instance_id>/votes/<int:decision_id>")
@login_required
def announcement(instance_id, decision_id):
    with unit(readonly=True) as db:
        instance = listings.visible_instance(db, me(db), instance_id)
        found = notices.announcement(db, instance, decision_id)
        return render_template("notices/announcement.html", a=found, instance=instance,
                               code=notices.community_code(db, instance.community_id))


def announcement_parts(instance, found):
    """(title, body HTML) of a vote announcement, for its PDF."""
    title = _("Announcement of the vote (round %(n)s)", n=found.round)
    return title, render_template("notices/_announcement_body.html", a=found)


@bp.get("/instances/<int:instance_id>/votes/<int:decision_id>.pdf")
@login_required
def announcement_pdf(instance_id, decision_id):
    with unit(readonly=True) as db:
        instance = listings.visible_instance(db, me(db), instance_id)
        title, body = announcement_parts(instance, notices.announcement(db, instance, decision_id))
        pdf = pdf_of(instance, title, body)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(f'{title}-{instance_id}.pdf')}"
    return response


@bp.get("/notices")
def index():
    with unit(readonly=True) as db:
        return render_template("notices/index.html", communities=notices.communities(db))


@bp.get("/notices/<code>")
def board(code):
    with unit(readonly=True) as db:
        found = notices.notice_board(db, code, utcnow())
        return render_template("notices/board.html", board=found, days=notices.PUBLICITY_DAYS)
