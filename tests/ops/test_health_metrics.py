"""What operators see: /healthz, /readyz, /metrics behind a token, request ids, the 500 page."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from engine.core.db import unit_of_work
from engine.core.heartbeats import Heartbeat, ProcessKind, beat
from engine.core.models import Job, utcnow
from tests.conftest import make_services
from tests.webui.conftest import Client, build_web, ready_task, start_project
from webui import create_app

TOKEN = "a-long-metrics-token-for-the-monitoring-host"


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch):
    from engine.core import users as user_store
    from tests.factories import FAST_HASHER
    monkeypatch.setattr(user_store, "_hasher", FAST_HASHER)


@pytest.fixture
def ops_web(db_url):
    services = make_services(db_url, metrics_token=TOKEN)
    yield build_web(services)
    services.db.dispose()


def scheduler_beats(services, at):
    with unit_of_work(services.session_factory) as session:
        beat(session, ProcessKind.SCHEDULER, at)


def test_health_and_readiness(ops_web):
    http = ops_web.app.test_client()
    assert http.get("/healthz").get_json() == {"status": "ok"}
    # No scheduler has run yet: up, but not ready.
    response = http.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"] == {"database": True, "migrations": True, "scheduler": False}
    assert "scheduler" in body["details"]
    scheduler_beats(ops_web.services, utcnow())
    response = http.get("/readyz")
    assert response.status_code == 200 and response.get_json()["status"] == "ready"
    # A scheduler silent for longer than the configured minute: not ready again.
    with unit_of_work(ops_web.services.session_factory) as session:
        for row in session.query(Heartbeat):
            row.beat_at = utcnow() - timedelta(seconds=61)
    assert http.get("/readyz").get_json()["checks"]["scheduler"] is False
    scheduler_beats(ops_web.services, utcnow())
    # The schema behind the code (a new release not yet migrated): not ready.
    with unit_of_work(ops_web.services.session_factory) as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = http.get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"]["migrations"] is False


def test_readiness_without_a_database_answers_503_and_health_still_200(tmp_path):
    services = make_services(f"sqlite:///{tmp_path / 'sanshe.db'}")
    services.db.dispose()
    unreachable = make_services.__globals__["load_settings"](
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    app = create_app(unreachable)
    http = app.test_client()
    assert http.get("/healthz").status_code == 200
    response = http.get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"] == {"database": False}


def test_metrics_need_the_configured_token(ops_web, db_url):
    http = ops_web.app.test_client()
    assert http.get("/metrics").status_code == 401
    assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    # No token configured: there is no /metrics at all.
    closed = make_services(db_url)
    try:
        assert create_app(services=closed).test_client().get(
            "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    finally:
        closed.db.dispose()


def metric(page: str, name: str, **labels) -> float:
    for line in page.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            rest = line[len(name):]
            if rest.startswith((" ", "{")):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in metrics")


def test_metrics_count_requests_steps_jobs_and_people(ops_web):
    web = ops_web
    task = ready_task(web, start_project(web))
    person = Client(web.app)
    person.login("committee")
    assert person.get("/inbox").status_code == 200
    assert person.post(f"/tasks/{task.id}/claim").status_code == 302
    with unit_of_work(web.services.session_factory) as session:
        instance_id = session.scalar(text("SELECT id FROM instances LIMIT 1"))
        session.add(Job(instance_id=instance_id, task_id="job-for-metrics", bpmn_id="svc", topic="notify",
                        state="ready", run_after=utcnow() - timedelta(seconds=90)))
        session.add(Job(instance_id=instance_id, task_id="job-incident", bpmn_id="svc2", topic="payment",
                        state="incident", run_after=utcnow()))
    response = web.app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.mimetype == "text/plain"
    page = response.get_data(as_text=True)
    assert metric(page, "sanshe_http_request_duration_seconds_count", route="/inbox", method="GET",
                  status="200") >= 1
    assert 'le="0.5"' in page
    assert metric(page, "sanshe_engine_step_seconds_count", step="start_instance") >= 1
    assert metric(page, "sanshe_jobs", state="ready", topic="notify") == 1
    assert metric(page, "sanshe_incidents", kind="job") == 1
    assert metric(page, "sanshe_job_queue_lag_seconds") >= 89
    assert metric(page, "sanshe_timers_due") == 0
    assert metric(page, "sanshe_users_signed_in") == 1
    assert metric(page, "sanshe_processes", kind="web") == 1


def test_every_response_carries_a_request_id(ops_web):
    http = ops_web.app.test_client()
    given = http.get("/healthz", headers={"X-Request-ID": "lb-1234.abc"})
    assert given.headers["X-Request-ID"] == "lb-1234.abc"
    made = http.get("/healthz", headers={"X-Request-ID": "bad id; with spaces"})
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["X-Request-ID"])


def test_the_500_page_is_chinese_and_names_the_request(ops_web):
    app = ops_web.app
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/__broken")
    def broken():
        raise RuntimeError("a bug")

    person = Client(app)
    person.login("committee")
    response = person.get("/__broken")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "出错了" in page and "请求编号" in page and "Internal Server Error" not in page
    assert response.headers["X-Request-ID"] in page
    english = person.get("/__broken", headers={"Accept-Language": "en"})
    assert english.status_code == 500
