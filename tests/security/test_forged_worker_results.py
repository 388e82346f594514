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


# --- rules that record no fact of their own: the engine runs them again on what they read ---

def _honest(world, topic, params=None, **variables):
    """Run Sanshe's own handler for ``topic`` on the world's project (queue only)."""
    from engine.core.jobs import JobQueue
    from engine.core.testing import QueueOnlyRuntime
    from tests.workers.helpers import project_of

    queue = JobQueue(world.db.settings, QueueOnlyRuntime())
    variables.setdefault("project", project_of(world.seed))
    return run_job(world.db, queue, world.seed, topic, params=params, instance_id=world.seed.instance_id,
                   **variables)[1]


def _forge(client, world, topic, result, params=None, **variables):
    """A job of ``topic`` on the world's project, completed over the job API with ``result``:
    the answer, the job row and whether the project row changed."""
    from tests.workers.helpers import project_of

    variables.setdefault("project", project_of(world.seed))
    with world.db.uow() as session:
        [job_id] = world.seed.add_jobs(session, topic, 1, variables={**variables, "params": params or {}})
        before = _project_row(session, world.seed.instance_id)
    [job] = [j for j in fetch(client, topics=[topic]) if j["id"] == job_id]
    answer = client.post(f"/api/jobs/{job_id}/complete", headers=KEY,
                         json={"workerId": "ext-1", "lockToken": job["lock_token"], "result": result})
    with world.db.uow(readonly=True) as session:
        row = session.get(Job, job_id)
        moved = _project_row(session, world.seed.instance_id) != before
        assert session.scalar(select(func.count()).select_from(Job).where(Job.topic == "notify")) == 0
        return answer, (row.state, row.error_message), moved


def _project_row(session, instance_id):
    instance = session.get(Instance, instance_id)
    return (instance.status, instance.current_step, instance.lock_version, instance.outcome)


def _refused(outcome, words):
    answer, (state, message), moved = outcome
    assert answer.status_code == 422 and words in answer.json["error"], answer.json
    assert state == "incident" and "result refused" in message and words in message
    assert not moved


def test_a_forged_eligibility_cannot_admit_a_suspended_organization(client, world):
    from engine.core.models import Organization
    honest = _honest(world, "eligibility_check")
    assert honest["eligible"] is True
    with world.db.uow() as session:
        session.get(Organization, world.seed.org_ids["sunshine"]).status = "suspended"
    _refused(_forge(client, world, "eligibility_check", {**honest, "eligible": True}), "eligible=False (not active)")
    with world.db.uow(readonly=True) as session:  # the honest answer now holds
        job = session.scalars(select(Job).where(Job.topic == "eligibility_check").order_by(Job.id.desc())).first()
        assert result_problem(session, job, {**honest, "eligible": False, "eligible_ids": []}) is None


def test_a_forged_panel_check_cannot_seat_someone_who_works_for_the_organization(client, world):
    good = ["rep1", "rep2", "rep3"]
    assert _honest(world, "panel_check", params={"panel": good})["members"] == good
    # rep9 is employed by the evaluated organization: a result passing the panel is refused.
    _refused(_forge(client, world, "panel_check", {"members": good + ["rep9"], "size": 4},
                    params={"panel": good + ["rep9"]}), "rep9 belongs to the evaluated organization")
    # A result naming other people than those chosen is refused too.
    _refused(_forge(client, world, "panel_check", {"members": ["rep1", "rep2", "rep4"], "size": 3},
                    params={"panel": good}), "the people chosen are ['rep1', 'rep2', 'rep3']")


def _drafted(world, amount="55555.55"):
    _honest(world, "funds_earmark", params={"amount": amount})
    return _honest(world, "agreement_draft", params={"amount": amount})


def test_a_forged_signing_cannot_report_signatures_nobody_gave(client, world):
    draft = _drafted(world)
    forged = {"agreement_id": draft["agreement_id"], "seal": draft["seal"], "status": "signed",
              "signatures": [{"party": "purchaser", "username": "town_head"}, {"party": "contractor", "username": "lead"}]}
    _refused(_forge(client, world, "agreement_sign", forged), "no signature of the contractor, purchaser was recorded")
    _refused(_forge(client, world, "agreement_sign", {**forged, "seal": "0" * 64}), "but the project's agreement is")


def test_a_forged_verification_cannot_pass_a_changed_agreement(client, world):
    from engine.method.models import Agreement
    draft = _drafted(world)
    _honest(world, "agreement_sign", params={"purchaser": "town_head", "contractor": "lead", "seal": draft["seal"]})
    with world.db.uow() as session:
        agreement = session.get(Agreement, draft["agreement_id"])
        agreement.content = dict(agreement.content, amount="99999.00")  # changed after signing
    _refused(_forge(client, world, "agreement_verify", {"ok": True, "seal": draft["seal"], "problems": []}),
             "the stored agreement says ok=False (content changed after it was sealed")
