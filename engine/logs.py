"""Logs of every process (web, worker, scheduler, serve): readable text or one JSON object
per line (``SANSHE_LOG_FORMAT``), each line carrying the request id of the web request it
belongs to, so one person's failed request can be followed through all its lines."""
import json
import logging
import os
import socket
import sys
from contextvars import ContextVar
from datetime import datetime, timezone

# The id of the web request being served in this thread ("-" outside requests).
request_id: ContextVar[str] = ContextVar("sanshe_request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``%(request_id)s``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, process, host, request id, message,
    and any extra fields the call gave (``log.info(..., extra={"status": 200})``)."""

    STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}

    def __init__(self, process: str):
        super().__init__()
        self.process, self.host = process, socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": self.process,
            "pid": os.getpid(),
            "host": self.host,
            "request_id": getattr(record, "request_id", request_id.get()),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self.STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(log_format: str, process: str, level: int = logging.INFO) -> None:
    """Send every logger's records to stderr in ``log_format`` (``text`` or ``json``),
    replacing handlers set before (gunicorn's included, in this process)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter(process))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {process} [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
