"""The web UI: a Flask app factory and one blueprint per area (auth, inbox, tasks, instances).

Server-rendered Jinja2 pages with htmx for partial updates. Views call engine functions in
one unit of work per request and never touch SpiffWorkflow or SQL themselves.
"""
import secrets

from flask import redirect, url_for
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from engine.config import KNOWN_SECRETS, load_settings

from . import errors, headers, i18n, inputs, ops
from .context import load_user

login_manager = LoginManager()
csrf = CSRFProtect()


def create_app(settings=None, services=None, test_config=None):
    """Build the app: defaults, then ``settings`` (SANSHE_* env), then ``test_config``.

    ``services`` (engine.wiring.Services) is built from the settings when not given.
    """
    if settings is None:
        settings = services.settings if services is not None else load_settings()
    if services is None:
        from engine.wiring import build_services
        services = build_services(settings)

    if settings.secret_key in KNOWN_SECRETS:
        raise RuntimeError("SANSHE_SECRET_KEY is a publicly known default; anyone could forge a session with it")
    app = ops.SansheFlask(__name__)
    app.config.from_mapping(
        # Without a configured key (tests, a quick local start) a random one for this process:
        # never a known one. `sanshe serve` makes sure production has its own.
        SECRET_KEY=settings.secret_key or secrets.token_urlsafe(48),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_NAME="sanshe_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        # A token per session, not per hour: forms left open over lunch must still submit.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE="zh_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        SANSHE_SETTINGS=settings,
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["sanshe"] = services
    ops.init_app(app)  # first: the request id is set before any other hook logs

    csrf.init_app(app)
    login_manager.init_app(app)
    # flask-login declares both as None, so a type checker would take them for None only.
    login_manager.login_view = "auth.login"  # pyright: ignore[reportAttributeAccessIssue]
    login_manager.login_message = None  # pyright: ignore[reportAttributeAccessIssue]
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)
    i18n.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    inputs.init_app(app)

    from . import (admin, agreements, auth, budgets, calendar_admin, catalog, documents, inbox, instances, jobs_api,
                   mining, notices, notifications, organizations, records, tasks)
    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(instances.bp)
    app.register_blueprint(budgets.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(mining.bp)
    app.register_blueprint(catalog.bp)
    app.register_blueprint(organizations.bp)
    notifications.init_app(app)
    app.register_blueprint(agreements.bp)
    app.register_blueprint(notices.bp)
    app.register_blueprint(records.bp)
    app.register_blueprint(calendar_admin.bp)
    app.register_blueprint(documents.bp)
    # The HTTP job API for remote workers: JSON with an API key, exempt from CSRF.
    jobs_api.register(app)

    @app.get("/")
    def index():
        return redirect(url_for("inbox.index"))

    @app.get("/favicon.ico")
    def favicon():
        # Browsers ask for it on every page whatever the page links to.
        return app.send_static_file("favicon.ico")

    return app
