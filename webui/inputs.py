"""Input no view can use is refused before any view runs: NUL characters, and ids in the
path too large for the database. Both answer 4xx with a message instead of a failed query."""
from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from engine.queries.inbox import MAX_ID


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` that only matches numbers an id column can hold (else 404)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 (werkzeug's parameter name)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values if isinstance(value, str))


def init_app(app: Flask) -> None:
    """Install the bounded ``int`` converter and the NUL check on ``app``."""
    app.url_map.converters["int"] = BoundedIntegerConverter

    @app.before_request
    def refuse_nul_characters() -> None:
        # PostgreSQL cannot store NUL in text; no person types one.
        if (_has_nul(request.args.values()) or _has_nul(request.args.keys()) or _has_nul(request.form.values())
                or _has_nul(request.form.keys()) or _has_nul((request.view_args or {}).values())
                or _has_nul(f.filename for f in request.files.values())):
            raise BadRequest(_("The request contains a NUL character, which no field may hold."))
