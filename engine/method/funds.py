"""Step 5: each town's yearly purchase budget and its ledger.

An earmark is one conditional UPDATE (``... WHERE total - committed >= amount``): two
workers racing for the last money cannot both win, on PostgreSQL (the row is locked by the
first UPDATE and the second re-checks the condition after it commits) or on SQLite (writers
are serialized). Every ledger entry carries the job id that wrote it (UNIQUE), so a job run
twice earmarks, releases or pays once.
"""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import func, select, update

from engine.core.db import table_of
from engine.errors import BusinessRuleError, NotFoundError, Text, ValidationError
from engine.method.models import Budget, LedgerEntry

BUDGETS = table_of(Budget)


def to_fen(yuan):
    """Yuan (a number or a numeric string) to integer fen, rounding half up."""
    try:
        amount = Decimal(str(yuan)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError("An amount must be a number of yuan.", errors={"amount": [str(yuan)]}) from exc
    if amount <= 0:
        raise ValidationError("An amount must be positive.", errors={"amount": [str(yuan)]})
    return int(amount * 100)


def yuan(fen):
    """Fen to a yuan string with two decimals (for results and documents)."""
    return f"{Decimal(fen) / 100:.2f}"


def set_budget(session, town_id, year, total_yuan):
    """Create or change a town's budget for a year (never below what is committed)."""
    total = int(Decimal(str(total_yuan)) * 100)
    budget = session.scalar(select(Budget).where(Budget.town_id == town_id, Budget.year == year))
    if budget is None:
        budget = Budget(town_id=town_id, year=year, total_fen=total, committed_fen=0, paid_fen=0)
        session.add(budget)
    elif total < budget.committed_fen:
        raise BusinessRuleError(Text("%(amount)s yuan are already committed.", amount=yuan(budget.committed_fen)),
                                code="budget_too_small")
    else:
        budget.total_fen = total
    session.flush()
    return budget


def get_budget(session, town_id, year):
    budget = session.scalar(select(Budget).where(Budget.town_id == town_id, Budget.year == year)
                            .execution_options(populate_existing=True))
    if budget is None:
        raise NotFoundError(Text("Town %(town)s has no budget for %(year)s.", town=town_id, year=year))
    return budget


def _entry_result(entry, budget):
    return {"entry_id": entry.id, "kind": entry.kind, "amount_fen": entry.amount_fen, "amount": yuan(entry.amount_fen),
            "budget_year": budget.year, "remaining": yuan(budget.total_fen - budget.committed_fen)}


def _done(session, job_id):
    if job_id is None:
        return None
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.job_id == job_id))
    return (entry, session.get(Budget, entry.budget_id)) if entry else None


def earmark(session, job_id, instance_id, town_id, year, amount_fen, now, note=""):
    """Reserve ``amount_fen`` of the town's budget for the project, or raise the BPMN error
    ``insufficient_funds`` when less is left."""
    done = _done(session, job_id)
    if done:
        return _entry_result(*done)
    budget = get_budget(session, town_id, year)
    taken = session.execute(
        update(BUDGETS).where(BUDGETS.c.id == budget.id, BUDGETS.c.total_fen - BUDGETS.c.committed_fen >= amount_fen)
        .values(committed_fen=BUDGETS.c.committed_fen + amount_fen)).rowcount
    budget = get_budget(session, town_id, year)
    if not taken:
        raise BusinessRuleError(
            f"Only {yuan(budget.total_fen - budget.committed_fen)} yuan are left of the {year} budget; "
            f"{yuan(amount_fen)} yuan are needed.", code="insufficient_funds",
            variables={"funds_left": yuan(budget.total_fen - budget.committed_fen), "funds_needed": yuan(amount_fen)})
    entry = LedgerEntry(budget_id=budget.id, instance_id=instance_id, job_id=job_id, kind="earmark",
                        amount_fen=amount_fen, note=note, created_at=now)
    session.add(entry)
    session.flush()
    return _entry_result(entry, budget)


def held_for(session, instance_id):
    """{budget id: fen earmarked for the instance and neither released nor paid}."""
    rows = session.execute(select(LedgerEntry.budget_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_fen))
                           .where(LedgerEntry.instance_id == instance_id)
                           .group_by(LedgerEntry.budget_id, LedgerEntry.kind)).all()
    held = {}
    for budget_id, kind, total in rows:
        held[budget_id] = held.get(budget_id, 0) + (int(total) if kind == "earmark" else -int(total))
    return {k: v for k, v in held.items() if v > 0}


def release(session, job_id, instance_id, now, note="project rejected or terminated"):
    """Give back what the project holds and has not been paid (rejection, termination)."""
    done = _done(session, job_id)
    if done:
        return _entry_result(*done)
    result = {"kind": "release", "amount_fen": 0, "amount": yuan(0)}
    for budget_id, amount in held_for(session, instance_id).items():
        session.execute(update(BUDGETS).where(BUDGETS.c.id == budget_id)
                        .values(committed_fen=BUDGETS.c.committed_fen - amount))
        entry = LedgerEntry(budget_id=budget_id, instance_id=instance_id, job_id=job_id, kind="release",
                            amount_fen=amount, note=note, created_at=now)
        session.add(entry)
        session.flush()
        budget = session.get(Budget, budget_id)
        session.refresh(budget)
        result = _entry_result(entry, budget)
        job_id = None  # one entry per budget; only the first carries the job id
    return result


def record_payment(session, job_id, instance_id, amount_fen, now, note=""):
    """Book a payment against the budget the project's earmark came from."""
    held = held_for(session, instance_id)
    if not held:
        raise BusinessRuleError("Nothing is earmarked for this project.", code="no_earmark")
    budget_id, available = max(held.items(), key=lambda kv: kv[1])
    if amount_fen > available:
        raise BusinessRuleError(Text("Only %(amount)s yuan are earmarked and unpaid.", amount=yuan(available)),
                                code="insufficient_funds")
    session.execute(update(BUDGETS).where(BUDGETS.c.id == budget_id).values(paid_fen=BUDGETS.c.paid_fen + amount_fen))
    session.add(LedgerEntry(budget_id=budget_id, instance_id=instance_id, job_id=job_id, kind="payment",
                            amount_fen=amount_fen, note=note, created_at=now))
    session.flush()


def balance(session, town_id, year):
    """The budget's figures, and the ledger's sums (which must agree with them)."""
    budget = get_budget(session, town_id, year)
    sums = {kind: int(total) for kind, total in session.execute(
        select(LedgerEntry.kind, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.budget_id == budget.id).group_by(LedgerEntry.kind))}
    return {"total_fen": budget.total_fen, "committed_fen": budget.committed_fen, "paid_fen": budget.paid_fen,
            "remaining_fen": budget.total_fen - budget.committed_fen,
            "ledger_committed_fen": sums.get("earmark", 0) - sums.get("release", 0),
            "ledger_paid_fen": sums.get("payment", 0)}
