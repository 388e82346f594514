"""gunicorn settings `sanshe serve` uses (``-c python:webui.gunicorn_conf``): the master's own
log lines in the format of the rest (``SANSHE_LOG_FORMAT``), and the metrics of a web worker
process that ended folded into the totals."""
import os

from engine.config import load_settings

_format = load_settings().log_format
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "engine.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "engine.logs.JsonFormatter", "process": "web"},
        "text": {"format": "%(asctime)s %(levelname)s web [%(request_id)s] %(message)s"},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                            "formatter": "json" if _format == "json" else "text", "filters": ["request_id"]}},
    "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
}


def child_exit(_server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
