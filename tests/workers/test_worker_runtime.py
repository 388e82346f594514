"""Workers over the real runtime: instances move on, BPMN errors route, failures become incidents."""
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main
from cli.app import Context
from engine.errors import ForbiddenError
from engine.method import funds
from engine.core.jobs import JobQueue
from engine.core.models import Event, Instance, Job, Notification, User, utcnow
from engine.method.models import LedgerEntry
from workers.registry import TOPICS
from workers.worker import Worker, run_workers

from .conftest import Clock


def test_workers_drive_instances_to_the_end(world):
    ids = world.start(12)
    counts = run_workers(world.services, TOPICS, concurrency=2, install_signals=False, until_idle=True)
    assert counts["completed"] == 24 and counts["failed"] == 0
    with world.db.uow(readonly=True) as session:
        assert session.scalars(select(Instance.outcome).where(Instance.id.in_(ids))).all() == ["Funded"] * 12
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 12
        assert session.scalar(select(func.count()).select_from(Notification).where(Notification.job_id.isnot(None))) == 12
        figures = funds.balance(session, world.seed.town_id, 2024)
        starts = session.scalar(select(func.count()).select_from(Event).where(
            Event.transition == "start", Event.activity_type == "serviceTask"))
    assert figures["committed_fen"] == figures["ledger_committed_fen"] == 12 * 10001
    assert starts == 24


def test_too_little_budget_waits_and_goes_on_when_raised_or_takes_the_error_path_when_the_town_decides_otherwise(db):
    from .conftest import World
    world = World(db, budget_yuan=250)
    try:
        ids = world.start(4)
        counts = run_workers(world.services, TOPICS, install_signals=False, until_idle=True)
        assert counts["waiting"] == 2 and counts["failed"] == 0
        queue = JobQueue(world.services.settings, world.services.runtime)
        with world.db.uow(readonly=True) as session:
            waiting = queue.waiting(session, "budget:")
            assert [job.instance_id for job in waiting] == ids[2:]
            assert session.scalar(select(func.count()).select_from(Job).where(Job.state == "incident")) == 0
        with world.db.uow() as session:
            town = world.seed.add_user(session, "town_head", "town_government", "town", world.seed.town_id)
            chair = session.get(User, world.seed.users["chair"])
            with pytest.raises(ForbiddenError):  # only the town decides on the purchase
                funds.decide_otherwise(session, queue, chair, waiting[1].id)
            funds.decide_otherwise(session, queue, town, waiting[1].id)
        with world.db.uow() as session:  # raising the budget puts the other one back in the queue
            funds.set_budget(session, world.seed.town_id, 2024, 400, actor="town_head")
        run_workers(world.services, TOPICS, install_signals=False, until_idle=True)
        with world.db.uow(readonly=True) as session:
            outcomes = session.scalars(select(Instance.outcome).where(Instance.id.in_(ids)).order_by(Instance.id)).all()
            left = funds.balance(session, world.seed.town_id, 2024)["remaining_fen"]
        assert outcomes == ["Funded", "Funded", "Funded", "Not funded"] and left == 40000 - 3 * 10001
    finally:
        world.close()


def test_a_failing_handler_retries_with_backoff_then_is_an_incident_until_retried(db):
    from .conftest import World
    world = World(db)
    finance_system = {"up": False}

    def earmark_through_finance_system(job):
        # The town's finance system is down: the handler fails until it is back.
        if not finance_system["up"]:
            raise ConnectionError("finance system unreachable")
        return TOPICS["funds_earmark"](job)

    try:
        [instance_id] = world.start(1)
        clock = Clock(utcnow() + timedelta(seconds=1))
        queue = JobQueue(world.services.settings, world.services.runtime, clock=clock)
        worker = Worker(world.services.session_factory, queue,
                        {**TOPICS, "funds_earmark": earmark_through_finance_system}, "w-test")
        for wait in (2, 4):
            assert worker.run_once() == 1
            assert worker.run_once() == 0  # backing off
            clock.advance(wait)
        assert worker.run_once() == 1
        clock.advance(3600)
        assert worker.run_once() == 0 and worker.counts["failed"] == 3
        with world.db.uow(readonly=True) as session:
            job = session.scalar(select(Job).where(Job.instance_id == instance_id))
        assert job.state == "incident" and "finance system unreachable" in job.error_message
        assert "Traceback" in job.error_details

        cli_ctx = Context()
        cli_ctx.settings, cli_ctx._services = world.services.settings, world.services
        runner = CliRunner()
        listed = runner.invoke(main, ["incidents"], obj=cli_ctx)
        assert listed.exit_code == 0 and f"{job.id}" in listed.output and "funds_earmark" in listed.output
        finance_system["up"] = True
        retried = runner.invoke(main, ["incidents", "retry", str(job.id)], obj=cli_ctx)
        assert retried.exit_code == 0, retried.output
        again = runner.invoke(main, ["incidents", "retry", str(job.id)], obj=cli_ctx)
        assert again.exit_code == 1 and "not an incident" in again.output
        assert runner.invoke(main, ["incidents"], obj=cli_ctx).output.strip() == "no incidents"
        assert worker.run_once() == 1 and worker.run_once() == 1  # earmark, then notify
        with world.db.uow(readonly=True) as session:
            assert session.get(Instance, instance_id).outcome == "Funded"
    finally:
        world.close()
