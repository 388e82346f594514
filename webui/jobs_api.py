"""HTTP API for workers written elsewhere (the external-task pattern over JSON).

    POST /api/jobs/fetch-and-lock   {workerId, topics: [..], maxJobs, lockDuration (s), asyncResponseTimeout (ms)}
    POST /api/jobs/<id>/complete    {workerId, lockToken, result: {..}}
    POST /api/jobs/<id>/failure     {workerId, lockToken, errorMessage, errorDetails, retries?, retryTimeout? (s)}
    POST /api/jobs/<id>/bpmn-error  {workerId, lockToken, errorCode, errorMessage, variables?}
    POST /api/jobs/<id>/extend-lock {workerId, lockToken, newDuration (s)}

fetch-and-lock answers a list of jobs: ``{id, topic, instance_id, task_id, activity_id, step,
variables (task data, with ``params``), attempts, retries, worker_id, lock_token, lock_expires_at}``.
Every call needs the header ``X-Api-Key``: a worker credential's key (made by an administrator,
limited to its topics: a job of another topic answers 403, a revoked key 401) or the
built-in settings.worker_api_key (every topic). Each call is one unit
of work; fetch-and-lock long-polls (one short transaction per poll) until a job is there or
the timeout passes. Errors are JSON ``{"error", "type"}`` with the engine's status codes.
"""
import math
import threading
import time

from flask import Blueprint, g, jsonify, request

from engine.errors import SansheError, ValidationError
from engine.core import worker_credentials
from engine.core.jobs import JobQueue

from .context import services, unit
from .errors import status_of

bp = Blueprint("jobs_api", __name__, url_prefix="/api/jobs")

MAX_POLL_SECONDS = 30.0
# While a long poll waits it checks with a read (no write lock) this often, backing off to
# the longer interval: fifty waiting workers then cost the database little.
POLL_INTERVAL = 0.2
MAX_POLL_INTERVAL = 1.0
# Long polls allowed to wait at once in one web process; the process's other threads stay
# free for people (sign-in, inbox). Beyond it a poll answers at once, like a 0 s timeout.
MAX_WAITING_POLLS = 40
_waiting = threading.BoundedSemaphore(MAX_WAITING_POLLS)


class Unauthorized(SansheError):
    """A valid X-Api-Key header is required."""


def register(app):
    """Mount the API on ``app``; JSON with an API key, so no CSRF token (no cookies are used)."""
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)


def _queue():
    return JobQueue(services().settings, runtime=services().runtime)


@bp.before_request
def _check_key():
    given = request.headers.get("X-Api-Key", "")
    builtin_key = services().settings.worker_api_key
    credential = worker_credentials.BuiltIn() if worker_credentials.is_builtin(given, builtin_key) else None
    if given and credential is None:  # a worker credential: its row says whether it holds
        with unit(readonly=True) as session:
            credential = worker_credentials.authenticate(session, given)
    if credential is None:
        raise Unauthorized()
    g.worker_credential = credential


def _check_job(session, job_id):
    worker_credentials.check_job(session, g.worker_credential, job_id)


@bp.errorhandler(SansheError)
def _error(exc):
    status = 401 if isinstance(exc, Unauthorized) else status_of(exc)
    body = {"error": str(exc), "type": type(exc).__name__}
    errors = getattr(exc, "errors", None)
    if errors:
        body["errors"] = errors
    return jsonify(body), status


def _body(*required):
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("Send a JSON object.", errors={"": ["expected a JSON object"]})
    missing = [name for name in required if data.get(name) in (None, "", [])]
    if missing:
        raise ValidationError("Missing fields.", errors={name: ["required"] for name in missing})
    return data


def _seconds(value, name, default=None, maximum=None):
    if value is None:
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a number.", errors={name: ["must be a number"]}) from exc
    if not math.isfinite(seconds):  # NaN would make a long poll wait forever
        raise ValidationError(f"{name} must be a finite number.", errors={name: ["must be finite"]})
    if seconds < 0:
        raise ValidationError(f"{name} must not be negative.", errors={name: ["must not be negative"]})
    return min(seconds, maximum) if maximum else seconds


@bp.post("/fetch-and-lock")
def fetch_and_lock():
    data = _body("workerId", "topics")
    topics = data["topics"]
    if isinstance(topics, str) or not all(isinstance(t, str) for t in topics):
        raise ValidationError("topics must be a list of names.", errors={"topics": ["list of strings"]})
    max_jobs = int(_seconds(data.get("maxJobs"), "maxJobs", 1, 100))
    lock = _seconds(data.get("lockDuration"), "lockDuration", None, 24 * 3600)
    wait = _seconds(data.get("asyncResponseTimeout"), "asyncResponseTimeout", 0) / 1000.0
    worker_credentials.check_topics(g.worker_credential, topics)
    deadline = time.monotonic() + min(wait, MAX_POLL_SECONDS)
    queue = _queue()

    def fetch():
        with unit() as session:
            return queue.fetch_and_lock(session, topics, str(data["workerId"]), max_jobs, lock)

    jobs = fetch()
    if jobs or wait <= 0 or not _waiting.acquire(blocking=False):
        return jsonify([job.as_dict() for job in jobs])
    try:
        interval = POLL_INTERVAL
        while not jobs and time.monotonic() < deadline:
            time.sleep(min(interval, max(deadline - time.monotonic(), 0)))
            interval = min(interval * 2, MAX_POLL_INTERVAL)
            with unit(readonly=True) as session:
                available = queue.has_available(session, topics)
            if available:
                jobs = fetch()
    finally:
        _waiting.release()
    return jsonify([job.as_dict() for job in jobs])


@bp.post("/<int:job_id>/complete")
def complete(job_id):
    data = _body("workerId", "lockToken")
    result = data.get("result", data.get("variables", {}))
    with unit() as session:
        _check_job(session, job_id)
        job = _queue().complete(session, job_id, data["workerId"], data["lockToken"], result)
        answer = {"id": job.id, "state": job.state}
    if job.state == "incident":  # refused: the result contradicts or lacks the recorded facts
        return jsonify({**answer, "error": job.error_message, "type": "ResultRefused"}), 422
    return jsonify(answer)


@bp.post("/<int:job_id>/failure")
def failure(job_id):
    data = _body("workerId", "lockToken", "errorMessage")
    retries = data.get("retries")
    with unit() as session:
        _check_job(session, job_id)
        job = _queue().fail(session, job_id, data["workerId"], data["lockToken"], str(data["errorMessage"]),
                            str(data.get("errorDetails") or ""), None if retries is None else int(retries),
                            _seconds(data.get("retryTimeout"), "retryTimeout"))
        return jsonify({"id": job.id, "state": job.state, "retries": job.retries,
                        "runAfter": job.run_after.isoformat() + "Z"})


@bp.post("/<int:job_id>/bpmn-error")
def bpmn_error(job_id):
    data = _body("workerId", "lockToken", "errorCode")
    with unit() as session:
        _check_job(session, job_id)
        job = _queue().bpmn_error(session, job_id, data["workerId"], data["lockToken"], str(data["errorCode"]),
                                  str(data.get("errorMessage") or ""), data.get("variables") or {})
        return jsonify({"id": job.id, "state": job.state})


@bp.post("/<int:job_id>/extend-lock")
def extend_lock(job_id):
    data = _body("workerId", "lockToken", "newDuration")
    with unit() as session:
        _check_job(session, job_id)
        expires = _queue().extend_lock(session, job_id, data["workerId"], data["lockToken"],
                                       _seconds(data["newDuration"], "newDuration", maximum=24 * 3600))
        return jsonify({"id": job_id, "lockExpiresAt": expires.isoformat() + "Z"})
