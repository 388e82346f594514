"""The web application as gunicorn serves it: logs set up first (text or JSON lines with
request ids, ``SANSHE_LOG_FORMAT``), then the app."""
from engine import logs
from engine.config import load_settings

from . import create_app
from .admission import Admission


def application():
    settings = load_settings()
    logs.configure(settings.log_format, "web")
    app = create_app(settings)
    app.wsgi_app = Admission(app.wsgi_app, settings.web_active_requests)
    return app
