"""Workers over the real runtime: instances move on, BPMN errors route, failures become incidents."""
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main
from cli.app import Context
from engine.method import funds
from engine.core.jobs import JobQueue
from engine.core.models import Event, Instance, Job, Notification, utcnow
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


def test_insufficient_funds_routes_to_the_error_boundary(db):
    from .conftest import World
    world = World(db, budget_yuan=250)
    try:
        ids = world.start(3)
        run_workers(world.services, TOPICS, install_signals=False, until_idle=True)
        with world.db.uow(readonly=True) as session:
            outcomes = session.scalars(select(Instance.outcome).where(Instance.id.in_(ids)).order_by(Instance.id)).all()
            left = funds.balance(session, world.seed.town_id, 2024)["remaining_fen"]
        assert outcomes == ["Funded", "Funded", "Not funded"] and left == 25000 - 2 * 10001
    finally:
        world.close()


def test_a_failing_handler_retries_with_backoff_then_is_an_incident_until_retried(db):
    from .conftest import World
    world = World(db, budget_yuan=0)  # no budget for the year: the handler raises NotFoundError
    try:
        [instance_id] = world.start(1)
        clock = Clock(utcnow() + timedelta(seconds=1))
        queue = JobQueue(world.services.settings, world.services.runtime, clock=clock)
        worker = Worker(world.services.session_factory, queue, TOPICS, "w-test")
        for wait in (2, 4):
            assert worker.run_once() == 1
            assert worker.run_once() == 0  # backing off
            clock.advance(wait)
        assert worker.run_once() == 1
        clock.advance(3600)
        assert worker.run_once() == 0 and worker.counts["failed"] == 3
        with world.db.uow(readonly=True) as session:
            job = session.scalar(select(Job).where(Job.instance_id == instance_id))
        assert job.state == "incident" and "no budget for 2024" in job.error_message
        assert "Traceback" in job.error_details

        cli_ctx = Context()
        cli_ctx.settings, cli_ctx._services = world.services.settings, world.services
        runner = CliRunner()
        listed = runner.invoke(main, ["incidents"], obj=cli_ctx)
        assert listed.exit_code == 0 and f"{job.id}" in listed.output and "funds_earmark" in listed.output
        with world.db.uow() as session:
            funds.set_budget(session, world.seed.town_id, 2024, 1000)
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
