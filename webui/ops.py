"""What operators need from the web processes: /healthz, /readyz, /metrics (Prometheus),
a request id and an access line per request, timing of each route and engine step, a
heartbeat with the people seen lately, and one more try of a request whose database
connection was cut under it."""
import hmac
import logging
import os
import re
import threading
import time
import uuid
from datetime import timedelta
from functools import wraps

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import NotFound

from engine import logs
from engine.core.db import transient, unit_of_work
from engine.core.heartbeats import ProcessKind, beat
from engine.core.models import utcnow
from engine.queries.operations import readiness, snapshot

from .context import end_request_unit

log = logging.getLogger("sanshe.web")
access_log = logging.getLogger("sanshe.access")
bp = Blueprint("ops", __name__)

# Latency buckets in seconds: fine where pages should be (under half a second), coarse above.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)
REQUEST_SECONDS = Histogram("sanshe_http_request_duration_seconds", "Time to answer a web request, by route.",
                            ["method", "route", "status"], buckets=BUCKETS)
STEP_SECONDS = Histogram("sanshe_engine_step_seconds", "Time of an engine step inside a web request.",
                         ["step"], buckets=BUCKETS)
# A process writes its heartbeat (and the people it saw) at most this often.
HEARTBEAT_SECONDS = 30.0
# Someone whose session made a request within this long counts as signed in.
SIGNED_IN_WINDOW_SECONDS = 15 * 60
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
INSTRUMENTED_STEPS = ("start_instance", "complete_task", "fire_timer")


class SansheFlask(Flask):
    """Flask that tries a request once more when its database connection was cut under it
    (the database restarted, an administrator ended the connection): the transaction was
    rolled back, the pool hands out a fresh connection, and the person sees no error. A
    cut during the very commit of a step may mean the step was saved: the second try then
    meets it done and answers as for a step already taken (the engine never does a step twice)."""

    def full_dispatch_request(self):  # type: ignore[override]
        try:
            return super().full_dispatch_request()
        except DBAPIError as exc:
            if not exc.connection_invalidated or g.get("sanshe_retried"):
                raise
            g.sanshe_retried = True
            end_request_unit(exc)  # the transaction the person was loaded in is gone with its connection
            g.pop("_login_user", None)  # flask-login loads the person again on the new connection
            log.warning("database connection lost during %s %s; trying the request once more",
                        request.method, request.path)
            return super().full_dispatch_request()


def _timed(name, method):
    @wraps(method)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            STEP_SECONDS.labels(name).observe(time.perf_counter() - started)
    return timed


def instrument_runtime(runtime) -> None:
    """Time the runtime's steps (once per runtime object)."""
    if getattr(runtime, "_sanshe_timed", False):
        return
    for name in INSTRUMENTED_STEPS:
        setattr(runtime, name, _timed(name, getattr(runtime, name)))
    runtime._sanshe_timed = True


class Presence:
    """The people this process served lately, and when it last said so in its heartbeat."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: dict[int, float] = {}
        self.reported: set[int] = set()
        self.last_beat = -HEARTBEAT_SECONDS

    def saw(self, user_id: int) -> None:
        self.seen[user_id] = time.monotonic()

    def due(self) -> list[int] | None:
        """The user ids to report when a heartbeat is due (every HEARTBEAT_SECONDS, or at
        once when someone new came), one thread at a time; else None."""
        now = time.monotonic()
        someone_new = not self.reported.issuperset(self.seen)
        if (now - self.last_beat < HEARTBEAT_SECONDS and not someone_new) or not self.lock.acquire(blocking=False):
            return None
        try:
            self.last_beat = now
            self.seen = {u: t for u, t in list(self.seen.items()) if now - t <= SIGNED_IN_WINDOW_SECONDS}
            self.reported = set(self.seen)
            return sorted(self.seen)
        finally:
            self.lock.release()


class InstallationCollector(Collector):
    """Gauges read from the database at each scrape: the same numbers from every host."""

    def __init__(self, session_factory):
        self.session_factory = session_factory

    def collect(self):
        with unit_of_work(self.session_factory, readonly=True) as session:
            numbers = snapshot(session, utcnow())
        jobs = GaugeMetricFamily("sanshe_jobs", "Service-task jobs not yet finished, by state and topic.",
                                 labels=["state", "topic"])
        for (state, topic), count in sorted(numbers.jobs.items()):
            jobs.add_metric([state, topic], count)
        yield jobs
        yield GaugeMetricFamily("sanshe_job_queue_lag_seconds",
                                "How long the oldest job due has waited for a worker.", value=numbers.queue_lag_seconds)
        incidents = GaugeMetricFamily("sanshe_incidents", "Failures waiting for an administrator.", labels=["kind"])
        incidents.add_metric(["job"], numbers.job_incidents)
        incidents.add_metric(["timer"], numbers.timer_incidents)
        yield incidents
        yield GaugeMetricFamily("sanshe_timers_due", "Timers due and not yet fired.", value=numbers.timers_due)
        yield GaugeMetricFamily("sanshe_users_signed_in",
                                "People who used the web UI within the last 15 minutes (all hosts).",
                                value=numbers.users_signed_in)
        processes = GaugeMetricFamily("sanshe_processes", "Processes with a recent heartbeat, by kind (all hosts).",
                                      labels=["kind"])
        for kind in ProcessKind:
            processes.add_metric([kind.value], numbers.processes.get(kind, 0))
        yield processes
        yield CounterMetricFamily("sanshe_metrics_scrapes", "Scrapes answered by this process.",
                                  value=_count_scrape())


_scrapes = [0]


def _count_scrape() -> int:
    _scrapes[0] += 1
    return _scrapes[0]


def _metrics_text(session_factory) -> bytes:
    """This process's histograms (or, under gunicorn, every web process's: the multiprocess
    folder `sanshe serve` sets) and the installation's gauges, in the Prometheus text format."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
        parts = [generate_latest(registry)]
    else:
        parts = [generate_latest(REGISTRY)]
    installation = CollectorRegistry()
    installation.register(InstallationCollector(session_factory))
    parts.append(generate_latest(installation))
    return b"".join(parts)


@bp.get("/healthz")
def healthz():
    """The process is up and answers (no database involved)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready for people: database reachable, migrations current, a scheduler beating."""
    services = current_app.extensions["sanshe"]
    settings = services.settings
    try:
        with unit_of_work(services.session_factory, readonly=True) as session:
            result = readiness(session, utcnow(), timedelta(seconds=settings.ready_scheduler_seconds))
    except DBAPIError as exc:
        log.warning("readiness: the database does not answer: %s", str(exc.orig).splitlines()[0])
        return jsonify(status="unavailable", checks={"database": False},
                       details={"database": "the database does not answer"}), 503
    body = {"status": "ready" if result.ready else "unavailable", "checks": result.checks, "details": result.details}
    return jsonify(body), 200 if result.ready else 503


@bp.get("/metrics")
def metrics():
    """Prometheus text format; needs `Authorization: Bearer <SANSHE_METRICS_TOKEN>` (404 when
    no token is configured, 401 for a wrong one)."""
    services = current_app.extensions["sanshe"]
    token = services.settings.metrics_token
    if not token:
        raise NotFound()
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response("a valid metrics token is required\n", 401, {"WWW-Authenticate": "Bearer"},
                        mimetype="text/plain")
    return Response(_metrics_text(services.session_factory),
                    mimetype="text/plain; version=0.0.4; charset=utf-8")


def init_app(app: Flask) -> None:
    """Request ids, access lines, timings, the heartbeat, and the three endpoints."""
    services = app.extensions["sanshe"]
    instrument_runtime(services.runtime)
    presence = Presence()
    app.register_blueprint(bp)

    @app.before_request
    def start_request() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        g.request_token = logs.request_id.set(g.request_id)
        g.request_started = time.perf_counter()

    @app.after_request
    def finish_request(response: Response) -> Response:
        started = g.get("request_started")
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        REQUEST_SECONDS.labels(request.method, route, str(response.status_code)).observe(elapsed)
        response.headers["X-Request-ID"] = g.request_id
        user = g.get("_login_user")  # only when the request loaded the person anyway
        user_id = getattr(user, "id", None) if user is not None and user.is_authenticated else None
        if user_id is not None:
            presence.saw(user_id)
        access_log.info("%s %s %s %.1f ms", request.method, request.path, response.status_code, elapsed * 1000,
                        extra={"method": request.method, "path": request.path, "route": route,
                               "status": response.status_code, "duration_ms": round(elapsed * 1000, 1),
                               "user_id": user_id})
        _heartbeat(services, presence)
        return response

    @app.teardown_request
    def end_request(exc) -> None:
        end_request_unit(exc)
        token = g.pop("request_token", None)
        if token is not None:
            logs.request_id.reset(token)


def _heartbeat(services, presence: Presence) -> None:
    users = presence.due()
    if users is None:
        return
    try:
        with unit_of_work(services.session_factory) as session:
            beat(session, ProcessKind.WEB, utcnow(), {"users": users})
    except Exception as exc:  # noqa: BLE001 - the page itself is unharmed; a later request tries again
        reason = str(exc.orig).splitlines()[0] if isinstance(exc, DBAPIError) and transient(exc) else repr(exc)
        log.warning("heartbeat not written: %s", reason)

