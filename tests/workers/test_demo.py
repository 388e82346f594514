"""`sanshe demo`: the Yueqing pilot through all seven steps with the real workers."""
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main
from engine.config import load_settings
from engine.core.db import make_engine, make_session_factory, unit_of_work
from engine.core.models import Event, Instance, Job, Notification, utcnow
from engine.method.models import Agreement, Budget, Decision, LedgerEntry, Payment
from workers.demo import run_demo


def test_demo_drives_the_pilot_and_records_real_cycle_times(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    lines = []
    ids = run_demo(load_settings(database_url=url), projects=5, echo=lines.append)
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine), readonly=True) as session:
            instances = session.scalars(select(Instance).where(Instance.id.in_(ids))).all()
            votes = session.scalars(select(Decision.outcome).where(Decision.kind == "vote")).all()
            panels = session.scalars(select(Job.result).where(Job.topic == "panel_check")).all()
            earmarked = session.scalar(select(func.sum(LedgerEntry.amount_fen)).where(LedgerEntry.kind == "earmark"))
            paid = session.scalar(select(func.sum(Payment.amount_fen)))
            signed = session.scalar(select(func.count()).select_from(Agreement).where(Agreement.status == "signed"))
            first, last = session.execute(select(func.min(Event.ts), func.max(Event.ts))).one()
            notices = session.scalar(select(func.count()).select_from(Notification))
            this_year = utcnow().year
            budget_years = session.scalars(select(Budget.year).where(Budget.year >= this_year)).all()
            revisions = session.scalar(select(func.count()).select_from(Event).where(
                Event.activity_id == "revise_application", Event.transition == "complete"))
            coordination = session.scalar(select(func.count()).select_from(Event).where(
                Event.activity_id == "coordination_meeting", Event.transition == "complete"))
            # People claim a task some days after it arrives and complete it days later:
            # mining sees both waiting and working time.
            started = {e.task_id: e.ts for e in session.scalars(select(Event).where(
                Event.activity_type == "userTask", Event.transition == "start"))}
            completed = {e.task_id: e.ts for e in session.scalars(select(Event).where(
                Event.activity_type == "userTask", Event.transition == "complete"))}
    finally:
        engine.dispose()
    assert [i.status for i in instances] == ["completed"] * 5
    # A project started today (and one running into next year) finds its town's budget.
    assert sorted(budget_years) == [this_year, this_year, this_year + 1, this_year + 1]
    assert earmarked == paid == 203_000_00 and signed == 5
    assert sum(1 for i in instances if i.social_work) == 2
    assert sorted(votes) == ["passed"] * 5 + ["rejected"]  # one failed vote, redone
    assert sum(1 for r in panels if r and r.get("bpmn_error") == "invalid_panel") == 1
    assert revisions >= 7 and coordination == 2  # 7 consultation rounds sent back (+ a redone vote)
    assert last - first > timedelta(days=150) and notices > 100
    assert completed and all(completed[task] - started[task] > timedelta(hours=1) for task in completed)
    assert "203,000 yuan (110,000 yuan in social-work projects)" in lines[0]
    assert any("demo-xiangdong_rep1" in line for line in lines)

    again = CliRunner().invoke(main, ["demo", "--if-empty"], env={"SANSHE_DATABASE_URL": url})
    assert again.exit_code == 0 and "nothing to do" in again.output
    refused = CliRunner().invoke(main, ["demo"], env={"SANSHE_DATABASE_URL": url})
    assert refused.exit_code == 1 and "already holds data" in refused.output
