"""Budget commands: set or raise a town's budget for a year, list the budgets."""
import click

from engine.core import access
from engine.core.db import unit_of_work
from engine.method import funds
from engine.queries import budgets as budget_queries

from .app import clear_errors, main, pad, pass_ctx


@main.group()
def budgets():
    """Towns' purchase budgets per fiscal year."""


@budgets.command("set")
@click.argument("town")
@click.argument("year")
@click.argument("amount")
@click.option("--by", "actor", default="admin", show_default=True, help="Who changes it (kept with the change).")
@click.option("--note", default="", help="Why (kept with the change).")
@pass_ctx
@clear_errors
def budgets_set(ctx, town, year, amount, actor, note):
    """Set or raise TOWN's (code or id) budget for YEAR to AMOUNT yuan.

    Never below what is already committed to projects; earmarks that waited for this budget
    go on.
    """
    with unit_of_work(ctx.services.session_factory) as session:
        town_id = access.find_scope(session, "town", town)
        budget = funds.set_budget(session, town_id, year, amount, actor=actor, note=note)
        click.echo(f"budget {budget.year} of {town}: {funds.yuan(budget.total_fen)} yuan "
                   f"({funds.yuan(budget.total_fen - budget.committed_fen)} left)")


@budgets.command("list")
@click.option("--town", default=None, help="Only this town (code or id).")
@click.option("--year", default=None, help="Only this year.")
@pass_ctx
@clear_errors
def budgets_list(ctx, town, year):
    """One line per town and year: total, committed, paid, remaining (yuan); the last line sums them."""
    with unit_of_work(ctx.services.session_factory, readonly=True) as session:
        town_ids = [access.find_scope(session, "town", town)] if town else None
        rows = budget_queries.budget_rows(session, town_ids, funds.check_year(year) if year else None)
    header = f"{'town':<16} {'year':>4} {'total':>16} {'committed':>16} {'paid':>16} {'remaining':>16}"
    click.echo(header)
    for row in rows:
        click.echo(f"{pad(row.town_name, 16)} {row.year:>4} {funds.yuan(row.total_fen):>16} "
                   f"{funds.yuan(row.committed_fen):>16} {funds.yuan(row.paid_fen):>16} "
                   f"{funds.yuan(row.remaining_fen):>16}")
    sums = [sum(getattr(row, name) for row in rows) for name in ("total_fen", "committed_fen", "paid_fen",
                                                                  "remaining_fen")]
    click.echo(f"{'total':<16} {'':>4} " + " ".join(f"{funds.yuan(value):>16}" for value in sums))
