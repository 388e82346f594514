"""One place maps engine errors and HTTP errors to status codes and pages."""
from flask import render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import (
    BusinessRuleError, ConflictError, ForbiddenError, NotFoundError, SansheError, ValidationError,
)

from .i18n import translated

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
        return _render(exc.code or 500, exc.name, exc.description or "")
