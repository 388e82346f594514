"""Sign-in, sign-out, the password change and the language switch."""
import math
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from engine.core import throttle
from engine.core.access import grants_of
from engine.core.models import utcnow
from engine.core.users import change_password, confirm_sign_in, credentials_of, end_sessions, password_matches
from engine.errors import ValidationError

from .context import SignedIn, me, settings, unit
from .i18n import LANGUAGES, translated

bp = Blueprint("auth", __name__)


def _safe_next(target):
    """Only same-site paths: an attacker's link must not bounce a signed-in person elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    # Control characters (CR/LF, NUL ...) would split or break the Location header.
    if any(ord(c) < 32 or ord(c) == 127 for c in target) or "\\" in target:
        return None
    return target


def _limits(username):
    """The account's limit (reserved at the start of a try) and the address's (counted on failure)."""
    cfg = settings()
    account = {throttle.account_key(username): throttle.Limit(cfg.login_account_free_failures,
                                                              cfg.login_account_max_delay)}
    address = {throttle.address_key(request.remote_addr): throttle.Limit(cfg.login_address_free_failures,
                                                                         cfg.login_address_max_delay)}
    return account, address


@bp.route("/login", methods=("GET", "POST"))
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("inbox.index"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        account, address = _limits(username)
        # The try is counted against the account in its own short transaction before the slow
        # password check: concurrent guesses each see the others' counts, and no database lock
        # is held while argon2 runs. A successful sign-in gives the try back; a failed one is
        # counted against the address too (only then: an office of people behind one address
        # signing in at once is not a run of failures).
        with unit() as db:
            wait = throttle.reserve(db, account, utcnow(), watched=address)
            credentials = None if wait else credentials_of(db, username)
        if wait or credentials is None:
            error = _("Too many failed sign-ins. Please wait %(seconds)s seconds and try again.",
                      seconds=math.ceil(wait))
            return render_template("auth/login.html", error=error, username=username), 429
        # The slow password check outside any transaction: no database connection or lock is
        # held while Argon2 runs, so many people signing in at once neither queue behind each
        # other on SQLite nor use up PostgreSQL's connection pool.
        password = request.form.get("password", "")
        matches = password_matches(credentials, password)
        signed_in = None
        with unit() as db:
            result = confirm_sign_in(db, credentials, password) if matches else None
            if result is not None and result.ok and result.user is not None:
                throttle.forgive(db, *account)
                signed_in = SignedIn(result.user, grants_of(db, result.user))
            else:
                throttle.fail(db, address, utcnow())
        if signed_in is not None:
            session.clear()
            login_user(signed_in)
            return redirect(_safe_next(request.args.get("next")) or url_for("inbox.index"))
        error = _("Wrong username or password.")
    status = 401 if error else 200
    return render_template("auth/login.html", error=error, username=username), status


@bp.post("/logout")
@login_required
def logout():
    lang = session.get("lang")
    with unit() as db:
        # Copies of this cookie (another browser, a stolen one) stop working too.
        end_sessions(db, me(db))
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=("GET", "POST"))
@login_required
def password():
    """The signed-in person changes their own password; their other sessions end."""
    errors = {}
    if request.method == "POST":
        form = request.form
        if form.get("new_password", "") != form.get("repeat_password", ""):
            errors["repeat_password"] = [_("The two new passwords differ.")]
        else:
            try:
                with unit() as db:
                    user = me(db)
                    change_password(db, user, form.get("current_password", ""), form.get("new_password", ""))
                    signed_in = SignedIn(user, grants_of(db, user))
            except ValidationError as exc:
                errors = {k: [translated(m) for m in v] for k, v in exc.errors.items()}
            else:
                login_user(signed_in)
                flash(_("Your password has been changed. You have been signed out everywhere else."))
                return redirect(url_for("inbox.index"))
    status = 422 if errors else 200
    return render_template("auth/password.html", errors=errors), status


@bp.post("/lang")
def set_language():
    lang = request.form.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")) or url_for("inbox.index"))
