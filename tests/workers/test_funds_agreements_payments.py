"""Step 5 and payment: budget earmarks, the sealed agreement, installments paid once."""
import threading

import pytest
from sqlalchemy import select, text

from engine.method import agreements
from engine.method import funds
from engine.method import payments
from engine.errors import WaitingError
from engine.core.models import Job
from engine.method.models import Agreement, LedgerEntry, Payment

from .helpers import JobFailed, project_of, run_job
from .seed import Seed


@pytest.fixture
def budget(db, seed):
    with db.uow() as session:
        funds.set_budget(session, seed.town_id, 2024, 100000)


def test_earmark_never_exceeds_what_is_left(db, queue, seed, budget):
    outcome, result, _ = run_job(db, queue, seed, "funds_earmark", params={"amount": 60000})
    assert outcome == "completed" and result["remaining"] == "40000.00"
    with db.uow() as session:
        other = seed.new_instance(session)
    outcome, result, job_id = run_job(db, queue, seed, "funds_earmark", params={"amount": "40000.01"},
                                      instance_id=other)
    assert (outcome, result) == ("waiting", None)  # waits for the budget instead of overdrawing it
    with db.uow(readonly=True) as session:
        assert funds.balance(session, seed.town_id, 2024)["remaining_fen"] == 4000000
        assert session.scalar(select(LedgerEntry).where(LedgerEntry.job_id == job_id)) is None
        job = session.get(Job, job_id)
        assert (job.state, job.waiting_for, job.retries) == ("waiting", f"budget:{seed.town_id}:2024", 3)


def test_release_gives_back_what_is_held_once(db, queue, seed, budget):
    run_job(db, queue, seed, "funds_earmark", params={"amount": 60000})
    _, released, job_id = run_job(db, queue, seed, "funds_release")
    assert released["amount"] == "60000.00" and released["remaining"] == "100000.00"
    with db.uow() as session:
        assert funds.release(session, job_id, seed.instance_id, None) == released  # same job again: same result
    _, nothing, _ = run_job(db, queue, seed, "funds_release")
    assert nothing["amount_fen"] == 0
    with db.uow(readonly=True) as session:
        figures = funds.balance(session, seed.town_id, 2024)
    assert figures["committed_fen"] == figures["ledger_committed_fen"] == 0


def test_parallel_earmarks_never_overdraw(pg):
    db = pg
    with db.uow() as session:
        seed = Seed.pilot(session)
        funds.set_budget(session, seed.town_id, 2024, 100000)
    with db.uow() as session:
        instances = [seed.new_instance(session) for _ in range(12)]
    barrier = threading.Barrier(len(instances))
    outcomes = []

    def grab(index, instance_id):
        barrier.wait()
        try:
            with db.uow() as session:
                funds.earmark(session, 1000 + index, instance_id, seed.town_id, 2024, 3000000, None)
            outcomes.append("ok")
        except WaitingError:
            outcomes.append("waiting")

    threads = [threading.Thread(target=grab, args=pair) for pair in enumerate(instances)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] * 3 + ["waiting"] * 9
    with db.uow(readonly=True) as session:
        figures = funds.balance(session, seed.town_id, 2024)
    assert figures["committed_fen"] == figures["ledger_committed_fen"] == 9000000


def signed_agreement(db, queue, seed, amount="55555.55"):
    run_job(db, queue, seed, "funds_earmark", params={"amount": amount})
    _, draft, _ = run_job(db, queue, seed, "agreement_draft", params={"amount": amount})
    _, signed, _ = run_job(db, queue, seed, "agreement_sign",
                           params={"purchaser": "town_head", "contractor": "lead", "seal": draft["seal"]})
    return draft, signed


def test_agreement_is_generated_sealed_and_signed(db, queue, seed, budget):
    draft, signed = signed_agreement(db, queue, seed)
    assert [i["amount"] for i in draft["installments"]] == ["16666.66", "38888.89"]  # adds up exactly
    assert signed["status"] == "signed"
    assert {(s["party"], s["username"]) for s in signed["signatures"]} == {("purchaser", "town_head"), ("contractor", "lead")}
    with db.uow(readonly=True) as session:
        agreement = session.get(Agreement, draft["agreement_id"])
        assert agreement.content["contractor"]["name"] == "阳光社工服务中心"
        assert set(agreement.content) >= {"purchaser", "contractor", "service", "amount", "installments",
                                          "acceptance_criteria", "term"}
        assert agreements.verify(agreement)["ok"] is True
    outcome, check, _ = run_job(db, queue, seed, "agreement_verify")
    assert outcome == "completed" and check["ok"]


@pytest.mark.parametrize("reseal", [False, True])
def test_a_change_after_signing_is_detected_and_nothing_is_paid(db, queue, seed, budget, reseal):
    draft, _ = signed_agreement(db, queue, seed)
    with db.uow() as session:
        agreement = session.get(Agreement, draft["agreement_id"])
        content = dict(agreement.content, amount="99999.00")
        agreement.content = content
        if reseal:  # rewriting the seal too does not help: the signatures keep the old one
            agreement.seal = agreements.seal_of(content)
            agreement.canonical = agreements.canonical_json(content)
    outcome, code, _ = run_job(db, queue, seed, "agreement_verify")
    assert (outcome, code) == ("bpmn_error", "agreement_tampered")
    outcome, code, _ = run_job(db, queue, seed, "payment", params={"installment": "on_signing"})
    assert (outcome, code) == ("bpmn_error", "agreement_tampered")


def test_unsigned_agreement_is_not_paid(db, queue, seed, budget):
    run_job(db, queue, seed, "funds_earmark", params={"amount": 1000})
    run_job(db, queue, seed, "agreement_draft", params={"amount": 1000})
    outcome, code, _ = run_job(db, queue, seed, "payment", params={"installment": 1})
    assert (outcome, code) == ("bpmn_error", "not_signed")


def test_each_installment_is_paid_once(db, queue, seed, budget):
    signed_agreement(db, queue, seed)
    _, first, _ = run_job(db, queue, seed, "payment", params={"installment": "on_signing"})
    _, again, _ = run_job(db, queue, seed, "payment", params={"installment": 1})  # another job, same installment
    _, rest, _ = run_job(db, queue, seed, "payment", params={"installment": "on_acceptance"})
    assert again == first and first["amount"] == "16666.66" and rest["amount"] == "38888.89"
    with db.uow(readonly=True) as session:
        assert len(session.scalars(select(Payment)).all()) == 2
        assert payments.paid_total(session, seed.instance_id) == 5555555
        figures = funds.balance(session, seed.town_id, 2024)
    assert figures["paid_fen"] == figures["ledger_paid_fen"] == 5555555
    # The database itself refuses a second row for the same installment.
    with pytest.raises(Exception, match="(?i)unique"):
        with db.uow() as session:
            session.execute(text("INSERT INTO payments (agreement_id, instance_id, installment, label, amount_fen, paid_at)"
                                 " SELECT agreement_id, instance_id, installment, label, amount_fen, paid_at"
                                 " FROM payments WHERE installment = 1"))


def test_installment_shares_must_add_up(db, queue, seed, budget):
    with pytest.raises(JobFailed, match="100%"):
        run_job(db, queue, seed, "agreement_draft", params={"amount": 1000, "installments": [["a", 30], ["b", 60]]})
    assert project_of(seed)["budget_total"] == 60000


def test_a_budget_set_while_the_earmark_runs_is_not_missed(db, queue, seed):
    """The town sets the budget after the earmark found none but before the job is parked:
    the job runs again at once instead of waiting for a change that already happened."""
    from workers.registry import TOPICS
    from workers.worker import Worker

    from engine.errors import WaitingError

    def earmark_while_the_town_sets_its_budget(job):
        try:
            return TOPICS["funds_earmark"](job)
        except WaitingError as exc:
            check = exc.arrived

            def town_first(session):
                # The town's change commits after the handler gave up, before the job is parked.
                with db.uow() as other:
                    funds.set_budget(other, seed.town_id, 2024, 100000, actor="town")
                return check(session)
            exc.arrived = town_first
            raise

    with db.uow() as session:
        [job_id] = seed.add_jobs(session, "funds_earmark", 1, variables={
            "project": {"town_id": seed.town_id, "title": "居家养老"}, "params": {"amount": 60000, "year": 2024}})
    with db.uow() as session:
        [job] = queue.fetch_and_lock(session, ["funds_earmark"], "w1", 1)
    racing = Worker(db.session_factory, queue, {"funds_earmark": earmark_while_the_town_sets_its_budget}, "w1")
    assert racing.process(job) == "released"
    with db.uow(readonly=True) as session:
        assert session.get(Job, job_id).state == "ready"
    with db.uow() as session:
        [again] = queue.fetch_and_lock(session, ["funds_earmark"], "w1", 1)
    assert Worker(db.session_factory, queue, TOPICS, "w1").process(again) == "completed"
    with db.uow(readonly=True) as session:
        assert funds.balance(session, seed.town_id, 2024)["committed_fen"] == 6_000_000
