"""The job queue: fetch-and-lock, expiry, late calls refused, retries, incidents."""
import pytest
from sqlalchemy import func, select

from engine.errors import BusinessRuleError, ConflictError
from engine.core.models import Event, Job, Notification
from workers.worker import Worker


def fetch(db, queue, worker="w1", topics=("t",), n=10, lock=60):
    with db.uow() as session:
        return queue.fetch_and_lock(session, list(topics), worker, n, lock)


def job_row(db, job_id):
    with db.uow(readonly=True) as session:
        return session.get(Job, job_id)


def test_fetch_locks_each_job_once_and_logs_its_start(db, queue, seed):
    with db.uow() as session:
        ids = seed.add_jobs(session, "t", 3)
        seed.add_jobs(session, "other", 2)
    first = fetch(db, queue, "w1", n=2)
    second = fetch(db, queue, "w2", n=10)
    assert [j.id for j in first] == ids[:2]
    assert [j.id for j in second] == ids[2:]
    assert fetch(db, queue, "w3") == []
    assert job_row(db, ids[0]).state == "locked" and job_row(db, ids[0]).worker_id == "w1"
    with db.uow(readonly=True) as session:
        starts = session.scalars(select(Event).where(Event.transition == "start")).all()
    assert sorted(e.resource for e in starts) == ["w1", "w1", "w2"]
    assert {e.activity_type for e in starts} == {"serviceTask"}


def test_higher_priority_first(db, queue, seed):
    with db.uow() as session:
        low = seed.add_jobs(session, "t", 2)
        high = seed.add_jobs(session, "t", 1, priority=5)
    assert [j.id for j in fetch(db, queue, n=2)] == [high[0], low[0]]


def test_expired_lock_is_fetched_again_and_late_complete_refused(db, queue, seed, clock):
    with db.uow() as session:
        [job_id] = seed.add_jobs(session, "t", 1)
    [old] = fetch(db, queue, "dead", lock=30)
    clock.advance(10)
    assert fetch(db, queue, "w2") == []  # still locked
    clock.advance(21)
    [new] = fetch(db, queue, "w2")
    assert new.id == job_id and new.lock_token != old.lock_token and new.attempts == 2
    with pytest.raises(ConflictError):
        with db.uow() as session:
            queue.complete(session, job_id, "dead", old.lock_token, {"x": 1})
    # Right worker, stale token (the same worker id re-fetched it) is refused as well.
    with pytest.raises(ConflictError):
        with db.uow() as session:
            queue.complete(session, job_id, "w2", old.lock_token, {"x": 1})
    row = job_row(db, job_id)
    assert (row.state, row.worker_id, row.result) == ("locked", "w2", None)
    with db.uow() as session:
        queue.complete(session, job_id, "w2", new.lock_token, {"x": 2})
    assert (job_row(db, job_id).state, job_row(db, job_id).result) == ("completed", {"x": 2})


def test_completing_twice_is_refused(db, queue, seed):
    with db.uow() as session:
        seed.add_jobs(session, "t", 1)
    [job] = fetch(db, queue)
    with db.uow() as session:
        queue.complete(session, job.id, job.worker_id, job.lock_token, {"ok": True})
    with pytest.raises(ConflictError, match="completed"):
        with db.uow() as session:
            queue.complete(session, job.id, job.worker_id, job.lock_token, {"ok": False})
    assert job_row(db, job.id).result == {"ok": True}


def test_extend_lock_keeps_others_out(db, queue, seed, clock):
    with db.uow() as session:
        seed.add_jobs(session, "t", 1)
    [job] = fetch(db, queue, lock=30)
    clock.advance(25)
    with db.uow() as session:
        queue.extend_lock(session, job.id, job.worker_id, job.lock_token, 60)
    clock.advance(30)
    assert fetch(db, queue, "w2") == []
    clock.advance(31)
    assert len(fetch(db, queue, "w2")) == 1
    with pytest.raises(ConflictError):
        with db.uow() as session:
            queue.extend_lock(session, job.id, job.worker_id, job.lock_token, 60)


def test_failures_back_off_then_become_an_incident_until_retried(db, queue, seed, clock):
    with db.uow() as session:
        [job_id] = seed.add_jobs(session, "t", 1, retries=3)
    waits = []
    for attempt in (1, 2):
        [job] = fetch(db, queue)
        assert job.attempts == attempt
        with db.uow() as session:
            queue.fail(session, job.id, job.worker_id, job.lock_token, "boom")
        row = job_row(db, job_id)
        waits.append((row.run_after - clock.now).total_seconds())
        assert row.state == "ready" and fetch(db, queue) == []  # not before the backoff
        clock.advance(waits[-1])
    assert waits == [2.0, 4.0]  # base ** attempt
    [job] = fetch(db, queue)
    with db.uow() as session:
        queue.fail(session, job.id, job.worker_id, job.lock_token, "boom", details="Traceback ...")
    row = job_row(db, job_id)
    assert (row.state, row.retries, row.error_message) == ("incident", 0, "boom")
    clock.advance(3600)
    assert fetch(db, queue) == []
    with db.uow() as session:
        assert [j.id for j in queue.incidents(session)] == [job_id]
        queue.retry_incident(session, job_id, retries=1, actor="admin")
    with pytest.raises(ConflictError):
        with db.uow() as session:
            queue.retry_incident(session, job_id)
    [job] = fetch(db, queue)
    assert job.id == job_id and job.retries == 1


def test_release_gives_jobs_back(db, queue, seed):
    with db.uow() as session:
        seed.add_jobs(session, "t", 3)
    jobs = fetch(db, queue, "w1", n=3)
    with db.uow() as session:
        assert queue.release(session, [j.id for j in jobs], "w1", "wrong-token") == 0
        assert queue.release(session, [j.id for j in jobs[1:]], "w1", jobs[0].lock_token) == 2
    assert [j.id for j in fetch(db, queue, "w2", n=3)] == [j.id for j in jobs[1:]]


def test_worker_keeps_effect_and_completion_together(db, queue, seed):
    with db.uow() as session:
        seed.add_jobs(session, "t", 2)
    ok, refused = fetch(db, queue, n=2)

    def notify(ctx):
        ctx.session.add(Notification(username="chair", job_id=ctx.job_id, message="hello"))
        return {"sent": 1}

    def refuse(ctx):
        ctx.session.add(Notification(username="chair", job_id=ctx.job_id, message="never"))
        raise BusinessRuleError("not enough money", code="insufficient_funds")

    worker = Worker(db.session_factory, queue, {"t": notify}, "w1")
    assert worker.process(ok) == "completed"
    assert Worker(db.session_factory, queue, {"t": refuse}, "w1").process(refused) == "bpmn_error"
    assert worker.process(ok) == "lost"  # completing twice is refused
    with db.uow(readonly=True) as session:
        assert session.scalars(select(Notification.message)).all() == ["hello"]
        row = session.get(Job, refused.id)
        assert row.state == "completed" and row.result["bpmn_error"] == "insufficient_funds"


def test_a_handler_crash_rolls_back_its_effect(db, queue, seed):
    with db.uow() as session:
        seed.add_jobs(session, "t", 1)
    [job] = fetch(db, queue)

    def crash(ctx):
        ctx.session.add(Notification(username="chair", job_id=ctx.job_id, message="half"))
        ctx.session.flush()
        raise RuntimeError("disk on fire")

    assert Worker(db.session_factory, queue, {"t": crash}, "w1").process(job) == "failed"
    with db.uow(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
        row = session.get(Job, job.id)
        assert (row.state, row.retries, row.error_message) == ("ready", 2, "RuntimeError: disk on fire")
