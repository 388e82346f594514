"""One place maps engine errors and HTTP errors to status codes and pages."""
import logging

from flask import g, render_template, request
from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from engine.core.db import transient

from engine.errors import (
    BusinessRuleError, ConflictError, ForbiddenError, NotFoundError, SansheError, ValidationError,
)

from .i18n import translated

log = logging.getLogger("sanshe.web")

STATUS = [
    (NotFoundError, 404), (ForbiddenError, 403), (ConflictError, 409),
    (ValidationError, 422), (BusinessRuleError, 422), (SansheError, 400),
]


def status_of(exc):
    return next(code for cls, code in STATUS if isinstance(exc, cls))


def _render(status, title, message):
    template = "_error_fragment.html" if request.headers.get("HX-Request") else "error.html"
    return render_template(template, status=status, title=title, message=message), status


def init_app(app):
    @app.errorhandler(SansheError)
    def engine_error(exc):
        status = status_of(exc)
        titles = {404: _("Not found"), 403: _("Not allowed"), 409: _("Changed meanwhile"),
                  422: _("Not accepted"), 400: _("Not possible")}
        return _render(status, titles[status], translated(exc.message))

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _render(400, _("Form expired"), _("The form was not accepted (security token missing or "
                                                 "expired). Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if (exc.code or 500) >= 500:
            return server_error(exc)
        return _render(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeoutError)
    def database_error(exc):
        if not transient(exc) or getattr(exc, "connection_invalidated", False) and not g.get("sanshe_retried"):
            raise exc  # a bug: error 500; a cut connection: the app tries the request once more
        # The database is busy (SQLite's write lock held elsewhere past the wait, every pooled
        # connection in use) or away: nothing was saved; the person can simply try again.
        log.warning("database unavailable for %s %s: %s", request.method, request.path,
                    str(getattr(exc, "orig", None) or exc).splitlines()[0])
        return _render_safely(503, _("Busy, please try again"),
                              _("The database is busy or briefly unavailable; nothing was saved. "
                                "Please try again in a moment."))

    @app.errorhandler(InternalServerError)
    def server_error(exc):
        original = getattr(exc, "original_exception", None) or exc
        if not isinstance(original, HTTPException):
            log.error("error 500 for %s %s", request.method, request.path, exc_info=original)
        return _render_safely(500, _("Something went wrong"),
                              _("The server could not complete this request. The error has been logged with "
                                "the request number below. Reload the page to see what was saved and try again; "
                                "if it happens again, tell the administrator the request number."))


def _render_safely(status, title, message):
    """The error page; when even that cannot be drawn (the database is away), a plain one."""
    request_id = g.get("request_id", "")
    try:
        body, code = _render(status, title, message)
        return body, code, {"Retry-After": "5"} if status == 503 else {}
    except Exception:  # noqa: BLE001 - the page about an error must not fail itself
        log.exception("the error page itself failed")
        page = (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{escape(title)}</title>'
                f"<h1>{escape(title)}</h1><p>{escape(message)}</p><p>{escape(request_id)}</p></html>")
        return page, status, {"Content-Type": "text/html; charset=utf-8"}
