"""Sign-in, sign-out and the language switch."""
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from engine.core.access import grants_of
from engine.core.users import authenticate

from .context import SignedIn, settings, unit
from .i18n import LANGUAGES

bp = Blueprint("auth", __name__)


def _safe_next(target):
    """Only same-site paths: an attacker's link must not bounce a signed-in person elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=("GET", "POST"))
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("inbox.index"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        cfg = settings()
        # The failed-attempt counter must be committed even when the sign-in is refused.
        with unit() as db:
            result = authenticate(db, username, request.form.get("password", ""),
                                  max_failures=cfg.login_max_failures, lock_minutes=cfg.login_lock_minutes)
            signed_in = SignedIn(result.user, grants_of(db, result.user)) \
                if result.ok and result.user is not None else None
        if signed_in is not None:
            session.clear()
            login_user(signed_in)
            return redirect(_safe_next(request.args.get("next")) or url_for("inbox.index"))
        if result.locked_until is not None:
            error = _("Too many failed sign-ins. The account is locked until %(time)s.",
                      time=format_datetime(result.locked_until, "short"))
        else:
            error = _("Wrong username or password.")
    status = 401 if error else 200
    return render_template("auth/login.html", error=error, username=username), status


@bp.post("/logout")
@login_required
def logout():
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


@bp.post("/lang")
def set_language():
    lang = request.form.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")) or url_for("inbox.index"))
