"""The HTTP job API for workers written elsewhere: same queue, same rules, API key required."""
import time

import pytest

from engine.core.models import Instance, Job
from webui import create_app
from webui.jobs_api import register
from workers.registry import TOPICS
from workers.worker import run_workers

KEY = {"X-Api-Key": "test-worker-key-for-the-job-api-tests"}


@pytest.fixture
def client(world):
    world.services.settings.worker_api_key = KEY["X-Api-Key"]
    app = create_app(services=world.services, test_config={"TESTING": True})
    if "jobs_api" not in app.blueprints:
        register(app)
    return app.test_client()


def fetch(client, worker="ext-1", topics=("funds_earmark",), **extra):
    response = client.post("/api/jobs/fetch-and-lock", headers=KEY,
                           json={"workerId": worker, "topics": list(topics), "maxJobs": 5, **extra})
    assert response.status_code == 200, response.json
    return response.json


def test_an_api_key_is_required(client):
    assert client.post("/api/jobs/fetch-and-lock", json={"workerId": "x", "topics": ["t"]}).status_code == 401
    wrong = client.post("/api/jobs/fetch-and-lock", headers={"X-Api-Key": "guess"}, json={"workerId": "x", "topics": ["t"]})
    assert wrong.status_code == 401 and wrong.json["type"] == "Unauthorized"


def test_fetch_complete_moves_the_instance_on_and_refuses_late_calls(client, world):
    [instance_id] = world.start(1)
    # The earmark is a rule with a recorded fact (the ledger): Sanshe's own worker does it;
    # a worker elsewhere serves a topic without one (notify).
    run_workers(world.services, {"funds_earmark": TOPICS["funds_earmark"]}, install_signals=False, until_idle=True)
    [job] = fetch(client, topics=["notify"])
    assert job["topic"] == "notify" and job["instance_id"] == instance_id
    body = {"workerId": "ext-1", "lockToken": job["lock_token"]}
    assert client.post(f"/api/jobs/{job['id']}/extend-lock", headers=KEY, json={**body, "newDuration": 120}).status_code == 200
    done = client.post(f"/api/jobs/{job['id']}/complete", headers=KEY, json={**body, "result": {"sent": 1}})
    assert done.status_code == 200 and done.json["state"] == "completed"
    again = client.post(f"/api/jobs/{job['id']}/complete", headers=KEY, json={**body, "result": {}})
    assert again.status_code == 409
    stranger = client.post(f"/api/jobs/{job['id']}/failure", headers=KEY,
                           json={"workerId": "ext-2", "lockToken": "x", "errorMessage": "boom"})
    assert stranger.status_code == 409
    with world.db.uow(readonly=True) as session:
        assert session.get(Instance, instance_id).status == "completed"


def test_failure_and_bpmn_error_over_http(client, world):
    world.start(2)
    first, second = fetch(client)
    failed = client.post(f"/api/jobs/{first['id']}/failure", headers=KEY,
                         json={"workerId": "ext-1", "lockToken": first["lock_token"], "errorMessage": "service down",
                               "retries": 0})
    assert failed.status_code == 200 and failed.json["state"] == "incident"
    routed = client.post(f"/api/jobs/{second['id']}/bpmn-error", headers=KEY,
                         json={"workerId": "ext-1", "lockToken": second["lock_token"], "errorCode": "insufficient_funds"})
    assert routed.status_code == 200
    with world.db.uow(readonly=True) as session:
        job = session.get(Job, second["id"])
        assert session.get(Instance, job.instance_id).outcome == "Not funded"
    bad = client.post("/api/jobs/fetch-and-lock", headers=KEY, json={"workerId": "x", "topics": "funds_earmark"})
    assert bad.status_code == 422


def test_fetch_long_polls_until_the_timeout(client):
    began = time.monotonic()
    assert fetch(client, asyncResponseTimeout=600) == []
    assert 0.5 <= time.monotonic() - began < 5
