"""One shared key no longer opens every job: each worker outside Sanshe gets its own key,
limited to its topics, made, renewed and revoked by an administrator (web and command
line), stored only as a hash and shown once (SQLite and PostgreSQL)."""
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from cli.app import Context
from engine.core import worker_credentials
from engine.core.models import AuditEntry, Instance, Job, WorkerCredential
from tests.workers.conftest import db, pg_db, sqlite_db, world  # noqa: F401
from tests.workers.test_jobs_api import KEY, client, fetch  # noqa: F401
from workers.registry import TOPICS


def _credential(world, name, topics):
    with world.db.uow() as session:
        _row, key = worker_credentials.create(session, name, topics, TOPICS, "admin")
    return {"X-Api-Key": key}


def _fetch(client, headers, topics):
    return client.post("/api/jobs/fetch-and-lock", headers=headers,
                       json={"workerId": "ext", "topics": topics, "maxJobs": 5})


def test_a_notify_key_cannot_take_or_complete_an_earmark_job(client, world):
    [instance_id] = world.start(1)
    notifier = _credential(world, "sms", ["notify"])
    refused = _fetch(client, notifier, ["funds_earmark"])
    assert refused.status_code == 403 and "funds_earmark" in refused.json["error"]
    assert _fetch(client, notifier, ["notify", "funds_earmark"]).status_code == 403
    # A job the built-in key holds: the notify key cannot complete, fail or extend it.
    [job] = fetch(client, topics=["funds_earmark"])
    body = {"workerId": "ext-1", "lockToken": job["lock_token"]}
    for action, extra in (("complete", {"result": {"amount_fen": 1}}), ("failure", {"errorMessage": "x"}),
                          ("bpmn-error", {"errorCode": "insufficient_funds"}), ("extend-lock", {"newDuration": 5})):
        answer = client.post(f"/api/jobs/{job['id']}/{action}", headers=notifier, json={**body, **extra})
        assert answer.status_code == 403, (action, answer.json)
    with world.db.uow(readonly=True) as session:
        assert session.get(Job, job["id"]).state == "locked"
        assert session.get(Instance, instance_id).status == "running"
    assert _fetch(client, notifier, ["notify"]).status_code == 200


def test_a_revoked_or_rotated_key_stops_working_at_once(client, world):
    old = _credential(world, "sms", ["notify"])
    assert _fetch(client, old, ["notify"]).status_code == 200
    with world.db.uow() as session:
        new = {"X-Api-Key": worker_credentials.rotate(session, worker_credentials.find(session, "sms"), "admin")}
    assert _fetch(client, old, ["notify"]).status_code == 401
    assert _fetch(client, new, ["notify"]).status_code == 200
    with world.db.uow() as session:
        worker_credentials.revoke(session, worker_credentials.find(session, "sms"), "admin")
    revoked = _fetch(client, new, ["notify"])
    assert revoked.status_code == 401 and revoked.json["type"] == "Unauthorized"
    # A key with the right shape and a known key id but a guessed secret is refused too.
    guessed = _credential(world, "mail", ["notify"])["X-Api-Key"].rsplit(".", 1)[0] + ".guess"
    assert _fetch(client, {"X-Api-Key": guessed}, ["notify"]).status_code == 401
    # The built-in key keeps every topic.
    assert _fetch(client, KEY, ["notify", "funds_earmark"]).status_code == 200


def test_keys_are_stored_only_as_hashes(world):
    key = _credential(world, "sms", ["notify"])["X-Api-Key"]
    secret = key.rsplit(".", 1)[1]
    with world.db.uow(readonly=True) as session:
        row = session.scalar(select(WorkerCredential))
        assert row.secret_hash.startswith("$argon2") and secret not in row.secret_hash
        assert secret not in repr(session.scalars(select(AuditEntry.details)).all())


def test_administrators_manage_keys_on_the_command_line(world, monkeypatch):
    monkeypatch.setenv("SANSHE_DATABASE_URL", world.db.url)
    runner, contexts = CliRunner(), []

    def sanshe(*args, ok=True):
        contexts.append(Context())
        result = runner.invoke(main, list(args), obj=contexts[-1], catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result

    try:
        _manage_keys(world, sanshe)
    finally:
        for context in contexts:
            if context._services is not None:
                context.services.db.dispose()


def _manage_keys(world, sanshe):

    made = sanshe("workers", "credentials", "create", "sms", "--topics", "notify,payment")
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("sw_")
    listed = sanshe("workers", "credentials", "list").output
    assert "sms" in listed and "notify, payment" in listed and key not in listed
    assert "No worker handles" in sanshe("workers", "credentials", "create", "x", "--topics", "nothing", ok=False).output
    rotated = sanshe("workers", "credentials", "rotate", "sms").stdout.strip()
    assert rotated.startswith("sw_") and rotated != key
    sanshe("workers", "credentials", "revoke", "sms")
    assert "revoked" in sanshe("workers", "credentials", "list").output
    assert "is revoked" in sanshe("workers", "credentials", "rotate", "sms", ok=False).output
    with world.db.uow(readonly=True) as session:
        assert worker_credentials.authenticate(session, rotated) is None
        assert session.scalar(select(WorkerCredential.name).where(WorkerCredential.name == "x")) is None


def test_administrators_manage_keys_in_the_web_interface(web, as_user):
    admin = as_user("admin")
    page = admin.get("/admin/workers").get_data(as_text=True)
    assert "外部程序密钥" in page and "计票" in page  # Chinese: the page and the topic names
    made = admin.post("/admin/workers", {"name": "短信通知服务", "topics": ["notify", "payment"]})
    assert made.status_code == 200
    html = made.get_data(as_text=True)
    key = html.split('data-testid="key">', 1)[1].split("<", 1)[0]
    assert key.startswith("sw_") and "只显示这一次" in html
    listed = admin.get("/admin/workers").get_data(as_text=True)
    assert "短信通知服务" in listed and key not in listed  # shown once
    with unit_of(web) as session:
        row = worker_credentials.find(session, "短信通知服务")
        assert worker_credentials.authenticate(session, key) is not None and row.topics == ["notify", "payment"]
        credential_id = row.id
    renewed = admin.post(f"/admin/workers/{credential_id}/rotate").get_data(as_text=True)
    new_key = renewed.split('data-testid="key">', 1)[1].split("<", 1)[0]
    assert admin.post(f"/admin/workers/{credential_id}/revoke").status_code == 303
    with unit_of(web) as session:
        assert worker_credentials.authenticate(session, key) is None
        assert worker_credentials.authenticate(session, new_key) is None
        assert [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.action.like("worker_%"))
                                                   .order_by(AuditEntry.id))] == [
            "worker_credential_create", "worker_credential_rotate", "worker_credential_revoke"]


def test_a_key_without_topics_or_for_an_unknown_topic_is_refused_and_nothing_is_made(web, as_user):
    admin = as_user("admin")
    for form in ({"name": "a"}, {"name": "b", "topics": ["nothing"]}, {"name": "", "topics": ["notify"]},
                 {"name": "x" * 81, "topics": ["notify"]}):
        assert admin.post("/admin/workers", form).status_code == 422, form
    admin.post("/admin/workers", {"name": "c", "topics": ["notify"]})
    assert admin.post("/admin/workers", {"name": "c", "topics": ["notify"]}).status_code == 409
    assert admin.post("/admin/workers/999999/revoke").status_code == 404
    with unit_of(web) as session:
        assert [r.name for r in worker_credentials.list_credentials(session)] == ["c"]
    # People who are not administrators cannot open the page.
    assert as_user("committee").get("/admin/workers").status_code == 403


def unit_of(web):
    from engine.core.db import unit_of_work
    return unit_of_work(web.services.session_factory)
