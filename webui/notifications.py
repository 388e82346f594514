"""The notification centre: the bell on every page, the list, mark as read, follow a project.

Notifications are stored as a kind with parameters; :func:`words` puts each in the reader's
language when the page is drawn, so switching the language switches old ones too.
"""
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required

from engine.core import delivery, notifications
from engine.core.delivery import Channel
from engine.core.hotcache import savepoint
from engine.core.models import Notification
from engine.core.notifications import NotificationKind as Kind
from engine.queries import listings
from engine.errors import ValidationError
from engine.queries.inbox import parse_page
from outbox import wording

from .context import me, settings, unit
from .i18n import language, translated

bp = Blueprint("notifications", __name__)
PER_PAGE = 20


def words(notice: Notification, names: Mapping[str, str]) -> str:
    """The notification as a sentence in the reader's language (the e-mails' words too)."""
    return wording.words(notice, names, language())


def target(notice: Notification) -> str:
    """Where the notification leads: its task, else its project, else the list."""
    return request.script_root + wording.path(notice)


@bp.get("/notifications")
@login_required
def index():
    unread_only = request.args.get("show") == "unread"
    with unit(readonly=True) as db:
        user = me(db)
        page = notifications.page_of(db, user.username, parse_page(request.args.get("page")), PER_PAGE,
                                     unread_only=unread_only)
        names = listings.display_names(db, {str(n.params.get("by")) for n in page.items
                                            if n.params and n.params.get("by")})
        items = [{"notice": n, "text": words(n, names), "project": page.titles.get(n.instance_id or 0, "")}
                 for n in page.items]
        unread = notifications.unread_count(db, user.username)
    return render_template("notifications/index.html", items=items, page=page, unread=unread,
                           unread_only=unread_only)


@bp.post("/notifications/<int:notification_id>/open")
@login_required
def open_one(notification_id: int):
    """Mark the notification read and go to its task or project."""
    with unit() as db:
        notice = notifications.mark_read(db, me(db).username, notification_id)
        to = target(notice)
    return redirect(to)


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read_one(notification_id: int):
    with unit() as db:
        notifications.mark_read(db, me(db).username, notification_id)
    return redirect(_back())


@bp.post("/notifications/read-all")
@login_required
def read_all():
    with unit() as db:
        count = notifications.mark_all_read(db, me(db).username)
    flash(_("%(n)s notifications marked as read.", n=count))
    return redirect(url_for("notifications.index"))


KIND_LABELS = {
    Kind.TASK_READY: lazy_gettext("A task for my role"),
    Kind.TASK_ASSIGNED: lazy_gettext("A task for me alone (a ballot, a score)"),
    Kind.TASK_HANDED: lazy_gettext("A task handed to me"),
    Kind.DEADLINE_NEAR: lazy_gettext("A deadline is near"),
    Kind.OVERDUE: lazy_gettext("A task is overdue"),
    Kind.STEP_MOVED: lazy_gettext("A project I follow moved on"),
    Kind.VOTE_RESULT: lazy_gettext("A vote result"),
    Kind.PAYMENT_MADE: lazy_gettext("A payment was made"),
    Kind.MESSAGE: lazy_gettext("Other messages"),
}
CHANNEL_LABELS = {Channel.APP: lazy_gettext("In the app only"), Channel.EMAIL: lazy_gettext("E-mail at once"),
                  Channel.DIGEST: lazy_gettext("Daily digest e-mail")}


@bp.route("/notifications/settings", methods=("GET", "POST"))
@login_required
def preferences():
    """How the person receives each kind: in the app only, by e-mail at once, or in a daily digest."""
    errors: dict[str, list[str]] = {}
    kinds = [str(k) for k in KIND_LABELS]
    with unit() as db:
        user = me(db)
        chosen = delivery.preferences(db, user.username)
        email = user.email or ""
        if request.method == "POST":
            chosen = {kind: request.form.get(f"channel-{kind}", Channel.APP) for kind in kinds}
            email = request.form.get("email", "")
            try:
                with savepoint(db):
                    delivery.set_preferences(db, user, chosen, kinds, email)
            except ValidationError as exc:
                errors = {key: [translated(m) for m in found] for key, found in (exc.errors or {"": [exc.message]}).items()}
            else:
                flash(_("Your notification settings are saved."))
                return redirect(url_for("notifications.preferences"))
    status = 422 if errors else 200
    return render_template("notifications/settings.html", kinds=KIND_LABELS, channels=CHANNEL_LABELS,
                           chosen=chosen, email=email, errors=errors,
                           email_on=bool(settings().smtp_host)), status


@bp.post("/instances/<int:instance_id>/follow")
@login_required
def follow(instance_id: int):
    """Follow or stop following a project the person can see."""
    stop = request.form.get("stop") == "1"
    with unit() as db:
        user = me(db)
        listings.visible_instance(db, user, instance_id)
        if stop:
            notifications.unfollow(db, user.username, instance_id)
        else:
            notifications.follow(db, user.username, instance_id)
    flash(_("You no longer follow this project.") if stop else
          _("You follow this project: you will be told when it moves to another step."))
    return redirect(url_for("instances.show", instance_id=instance_id))


def _back() -> str:
    page = request.form.get("page", "")
    show = request.form.get("show", "")
    args: dict[str, Any] = {}
    if page.isdigit() and page != "1":
        args["page"] = int(page)
    if show == "unread":
        args["show"] = "unread"
    return url_for("notifications.index", **args)


def unread_for_bell() -> int | None:
    """The signed-in person's unread count for the bell (None when signed out)."""
    if not current_user.is_authenticated:
        return None
    known = g.get("sanshe_unread")
    if known is not None:
        return known
    with unit(readonly=True) as db:
        return notifications.unread_count(db, current_user.username)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def _bell() -> dict[str, Any]:
        return {"unread_notifications": unread_for_bell}
