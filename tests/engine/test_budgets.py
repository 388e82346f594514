"""Budgets and the purchase decision on the real diagram with the real workers, on SQLite and
PostgreSQL: the budget never drops below what is committed, every change is kept, an
earmark waits for a missing budget and goes on when it is set, the amount follows the vote
and the installments add up to it."""

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main
from cli.app import Context
from engine.core.db import unit_of_work
from engine.core.models import AuditEntry, Instance, Job, Task, User
from engine.errors import NotFoundError, ValidationError
from engine.method import agreements, funds
from engine.method.models import Budget, BudgetChange, LedgerEntry
from engine.queries import budgets as budget_queries
from engine.method.driver import start_project
from tests.drive import decide_purchase, drive_to, voted_choices, work


def uow(services, readonly=False):
    return unit_of_work(services.session_factory, readonly=readonly)


def start(services, world):
    return start_project(services, world, title="象东居家养老")


def decide(services, world, task_id, **fields):
    decide_purchase(services, world.users.town.id, task_id, **fields)


def test_budget_is_set_raised_never_below_what_is_committed_and_every_change_is_kept(seven_steps):
    services, world = seven_steps
    with uow(services) as session:
        funds.set_budget(session, world.town.id, 2026, "100000", actor="town", note="年初预算")
        funds.earmark(session, 1, 1, world.town.id, 2026, 6_000_000, None)
    with uow(services) as session, pytest.raises(ValidationError) as refused:
        funds.set_budget(session, world.town.id, 2026, 59_999.99, actor="town")
    assert "60000.00" in str(refused.value) and list(refused.value.errors) == ["total"]
    for year, amount, field in [("20x6", 1, "year"), (1999, 1, "year"), (2026, "-5", "total"), (2026, "十万", "total"),
                                (2026, 0, "total"), (2026, "1e20", "total")]:
        with uow(services) as session, pytest.raises(ValidationError) as bad:
            funds.set_budget(session, world.town.id, year, amount, actor="town")
        assert list(bad.value.errors) == [field]
    with uow(services) as session, pytest.raises(NotFoundError):
        funds.set_budget(session, 999, 2026, 1000, actor="town")
    with uow(services, readonly=True) as session:  # nothing of the refused changes is kept
        assert funds.balance(session, world.town.id, 2026)["total_fen"] == 10_000_000
        assert session.scalar(select(func.count()).select_from(BudgetChange)) == 1
    with uow(services) as session:
        funds.set_budget(session, world.town.id, 2026, 60_000, actor="admin")  # down to what is committed
        funds.set_budget(session, world.town.id, 2026, 150_000, actor="town", note="追加")
    with uow(services, readonly=True) as session:
        budget = session.scalar(select(Budget).where(Budget.town_id == world.town.id))
        changes = [(c.old_total_fen, c.new_total_fen, c.changed_by, c.note) for c in funds.budget_changes(session, budget.id)]
        audited = session.scalars(select(AuditEntry.target).where(AuditEntry.action == "budget_set")).all()
    assert changes == [(6_000_000, 15_000_000, "town", "追加"), (10_000_000, 6_000_000, "admin", ""),
                       (None, 10_000_000, "town", "年初预算")]
    assert audited == [f"budget:{world.town.id}:2026"] * 3


def test_a_project_started_today_waits_for_the_budget_then_goes_on_with_the_voted_amount_and_installments(seven_steps):
    services, world = seven_steps
    year = services.runtime.clock().year
    instance_id = start(services, world)
    task_id = drive_to(services, instance_id, "purchase_decision", voted_choices(30000))

    # The amount is capped by the application the representatives voted on (30,000, not 300,000).
    with pytest.raises(ValidationError) as too_much:
        decide(services, world, task_id, purchase_amount=300000, purchase_first_installment=90000,
               purchase_final_installment=210000)
    assert list(too_much.value.errors) == ["purchase_amount"]
    assert "30000.00" in str(too_much.value.errors["purchase_amount"][0])
    # The installments add up to the amount.
    with pytest.raises(ValidationError) as uneven:
        decide(services, world, task_id, purchase_amount=30000, purchase_first_installment=9000,
               purchase_final_installment=20000)
    assert set(uneven.value.errors) == {"purchase_first_installment", "purchase_final_installment"}
    with pytest.raises(ValidationError) as missing:
        decide(services, world, task_id, purchase_amount=30000)
    assert {"purchase_first_installment", "purchase_final_installment"} <= set(missing.value.errors)
    with uow(services, readonly=True) as session:  # nothing was decided
        assert session.get(Task, task_id).state == "ready"

    decide(services, world, task_id, purchase_amount=30000, purchase_first_installment=9000,
           purchase_final_installment=21000)
    counts = work(services)
    assert counts["waiting"] == 1 and counts["failed"] == 0  # no budget for this year yet: it waits
    with uow(services, readonly=True) as session:
        job = session.scalar(select(Job).where(Job.instance_id == instance_id, Job.topic == "funds_earmark"))
        assert (job.state, job.retries) == ("waiting", 3)
        [notice] = budget_queries.budget_notices(session, [world.town.id])
        assert (notice.instance_id, notice.year, notice.needed_fen, notice.has_budget) == (instance_id, year, 3_000_000,
                                                                                             False)
        assert session.scalar(select(func.count()).select_from(Job).where(Job.state == "incident")) == 0

    with uow(services) as session:  # too little: still waits, and the notice says how much is left
        funds.set_budget(session, world.town.id, year, 20_000, actor="town")
    work(services)
    with uow(services, readonly=True) as session:
        [notice] = budget_queries.budget_notices(session, [world.town.id])
        assert (notice.has_budget, notice.remaining_fen) == (True, 2_000_000)

    with uow(services) as session:  # raised: the step goes on by itself
        funds.set_budget(session, world.town.id, year, 50_000, actor="town")
    work(services)
    with uow(services, readonly=True) as session:
        assert budget_queries.budget_notices(session) == []
        assert session.scalars(select(Task.bpmn_id).where(Task.instance_id == instance_id, Task.state == "ready")
                               ).all() == ["sign_purchaser"]
        assert [i["amount"] for i in agreements.latest(session, instance_id).content["installments"]] == \
            ["9000.00", "21000.00"]
        assert session.scalar(select(func.sum(LedgerEntry.amount_fen)).where(LedgerEntry.instance_id == instance_id)) \
            == 3_000_000


def test_decide_otherwise_brings_the_purchase_decision_back_to_the_town(seven_steps):
    from engine.core.jobs import JobQueue

    services, world = seven_steps
    instance_id = start(services, world)
    task_id = drive_to(services, instance_id, "purchase_decision", voted_choices(30000))
    decide(services, world, task_id, purchase_amount=30000, purchase_first_installment=10000,
           purchase_final_installment=20000)
    work(services)
    queue = JobQueue(services.settings, services.runtime)
    with uow(services) as session:
        [job] = queue.waiting(session, "budget:")
        funds.decide_otherwise(session, queue, session.get(User, world.users.town.id), job.id)
    with uow(services, readonly=True) as session:
        assert session.scalars(select(Task.bpmn_id).where(Task.instance_id == instance_id, Task.state == "ready")
                               ).all() == ["purchase_decision"]
        assert session.get(Job, job.id).state == "completed"
        assert session.get(Instance, instance_id).status == "running"


def test_cli_sets_and_lists_budgets(seven_steps):
    services, world = seven_steps
    ctx = Context()
    ctx.settings, ctx._services = services.settings, services
    runner = CliRunner()
    done = runner.invoke(main, ["budgets", "set", "liushi", "2026", "80000", "--by", "town", "--note", "年初"], obj=ctx)
    assert done.exit_code == 0, done.output
    assert "80000.00" in done.output
    assert runner.invoke(main, ["budgets", "set", str(world.town.id), "2027", "1000.5"], obj=ctx).exit_code == 0
    for args, message in [(["liushi", "2026", "abc"], "amount must be a number"),
                          (["nowhere", "2026", "10"], "No town"), (["liushi", "year", "10"], "year between")]:
        refused = runner.invoke(main, ["budgets", "set", *args], obj=ctx)
        assert refused.exit_code == 1 and message in refused.output
    with uow(services) as session:
        funds.earmark(session, 7, 1, world.town.id, 2026, 3_000_000, None)
    refused = runner.invoke(main, ["budgets", "set", "liushi", "2026", "29999"], obj=ctx)
    assert refused.exit_code == 1 and "30000.00" in refused.output
    listed = runner.invoke(main, ["budgets", "list"], obj=ctx)
    assert listed.exit_code == 0
    lines = listed.output.strip().splitlines()
    assert lines[1].split() == ["柳市镇", "2027", "1000.50", "0.00", "0.00", "1000.50"]
    assert lines[2].split() == ["柳市镇", "2026", "80000.00", "30000.00", "0.00", "50000.00"]
    assert lines[-1].split() == ["total", "81000.50", "30000.00", "0.00", "51000.50"]
    one_year = runner.invoke(main, ["budgets", "list", "--year", "2027"], obj=ctx).output.strip().splitlines()
    assert len(one_year) == 3 and one_year[-1].split()[1] == "1000.50"


def test_a_terminated_project_no_longer_waits_for_the_budget(seven_steps):
    services, world = seven_steps
    instance_id = start(services, world)
    task_id = drive_to(services, instance_id, "purchase_decision", voted_choices(30000))
    decide(services, world, task_id, purchase_amount=20000, purchase_first_installment=5000,
           purchase_final_installment=15000)
    assert work(services)["waiting"] == 1
    with uow(services) as session:
        services.runtime.terminate_instance(session, instance_id, session.get(User, world.users.town.id), "机构撤回")
    with uow(services) as session:
        assert budget_queries.budget_notices(session) == []
        assert session.scalar(select(Job.state).where(Job.topic == "funds_earmark")) == "cancelled"
        funds.set_budget(session, world.town.id, services.runtime.clock().year, 50_000)
    assert work(services)["completed"] == 0
