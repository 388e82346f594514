"""A worker cannot forge a rule's decision: a result that no recorded fact backs, or that
contradicts the fact (a tally of 1 yes and 8 no reported as passed), is refused and becomes
an incident; the project does not move (SQLite and PostgreSQL)."""
from sqlalchemy import func, select

from engine.core.models import Instance, Job
from engine.method.models import LedgerEntry
from engine.method.results import result_problem
from tests.workers.conftest import db, pg_db, queue, seed, sqlite_db, world, clock  # noqa: F401
from tests.workers.helpers import run_job
from tests.workers.test_jobs_api import KEY, client, fetch  # noqa: F401


def test_a_forged_vote_tally_cannot_pass_a_rejected_project(db, queue, seed):
    votes = [{"voter": f"rep{i}", "vote": "yes" if i == 1 else "no"} for i in range(1, 10)]
    _, recorded, job_id = run_job(db, queue, seed, "vote_tally", params={"ballots": votes})
    assert recorded["passed"] is False
    with db.uow(readonly=True) as session:
        job = session.get(Job, job_id)
        assert "passed=True" in result_problem(session, job, {**recorded, "passed": True})
        assert "outcome" in result_problem(session, job, {**recorded, "outcome": "passed"})
        assert result_problem(session, job, recorded) is None  # the honest result holds


def test_a_vote_tally_with_no_tally_of_the_ballots_is_refused(db, seed):
    with db.uow() as session:
        [job_id] = seed.add_jobs(session, "vote_tally", 1, variables={"params": {}})
        job = session.get(Job, job_id)
        assert "no tally of the ballots was recorded" in result_problem(session, job, {"passed": True, "outcome": "passed"})
        [notify_id] = seed.add_jobs(session, "notify", 1, variables={"params": {}})
        assert result_problem(session, session.get(Job, notify_id), {"sent": 3}) is None  # no fact to check


def test_a_remote_worker_cannot_complete_an_earmark_it_did_not_record(client, world):
    [instance_id] = world.start(1)
    [job] = fetch(client, topics=["funds_earmark"])
    forged = client.post(f"/api/jobs/{job['id']}/complete", headers=KEY, json={
        "workerId": "ext-1", "lockToken": job["lock_token"],
        "result": {"amount_fen": 10001, "amount": "100.01", "remaining": "0"}})
    assert forged.status_code == 422 and "no ledger entry" in forged.json["error"]
    with world.db.uow(readonly=True) as session:
        row = session.get(Job, job["id"])
        assert row.state == "incident" and "result refused" in row.error_message
        assert session.get(Instance, instance_id).status == "running"
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        assert session.scalar(select(func.count()).select_from(Job).where(Job.topic == "notify")) == 0


def test_a_result_that_does_not_match_its_topics_schema_is_refused(client, world):
    [instance_id] = world.start(1)
    from tests.workers.test_jobs_api import run_workers, TOPICS

    run_workers(world.services, {"funds_earmark": TOPICS["funds_earmark"]}, install_signals=False, until_idle=True)
    [job] = fetch(client, topics=["notify"])
    refused = client.post(f"/api/jobs/{job['id']}/complete", headers=KEY, json={
        "workerId": "ext-1", "lockToken": job["lock_token"], "result": {"sent": "everyone"}})
    assert refused.status_code == 422 and "schema" in refused.json["error"]
    with world.db.uow(readonly=True) as session:
        assert session.get(Job, job["id"]).state == "incident"
        assert session.get(Instance, instance_id).status == "running"


def test_a_vote_tally_result_without_its_decision_fields_is_refused(db, seed):
    with db.uow() as session:
        [job_id] = seed.add_jobs(session, "vote_tally", 1, variables={"params": {}})
        problem = result_problem(session, session.get(Job, job_id), {"passed": "yes"})
        assert "schema" in problem
