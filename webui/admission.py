"""How many people's requests one web process works on at once.

A web process has many threads (waiting job polls hold most of them, see
``webui/jobs_api.py``), but only one runs Python at a time. When dozens of people's
requests run side by side they take turns on that lock: every database answer waits for
it again, the kernel spends its time switching threads, and each page takes as long as
all of them together. So at most ``limit`` people's requests run at once; the others wait
for a turn (asleep, costing nothing) in the order they came. The job API, whose long
polls mostly sleep, and the health and metrics endpoints never wait.

Measured with ``sanshe bench web --users 64`` on 2 cores (PostgreSQL): 47 requests/s with
48 requests at once per process, 60-65 with 8.
"""
import threading
from collections.abc import Callable, Iterable
from typing import Any

DEFAULT_LIMIT = 8
EXEMPT = ("/api/jobs/", "/healthz", "/readyz", "/metrics")


class Admission:
    """WSGI middleware letting at most ``limit`` requests (outside ``EXEMPT``) in at once."""

    def __init__(self, app: Callable[..., Iterable[bytes]], limit: int = DEFAULT_LIMIT) -> None:
        self.app = app
        self.limit = limit
        self._turns = threading.Semaphore(limit)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(EXEMPT):
            return self.app(environ, start_response)
        with self._turns:
            return self.app(environ, start_response)
