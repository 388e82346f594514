"""The web application as gunicorn serves it: logs set up first (text or JSON lines with
request ids, ``SANSHE_LOG_FORMAT``), then the app."""
from engine import logs
from engine.config import load_settings

from . import create_app


def application():
    settings = load_settings()
    logs.configure(settings.log_format, "web")
    return create_app(settings)
