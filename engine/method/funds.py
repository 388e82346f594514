"""Step 5: each town's yearly purchase budget and its ledger.

A budget is set and raised by the town government (or an administrator), never below what
is committed; every change is recorded. An earmark that finds no budget or too little
waits for it (the job is parked, the town is told) and goes on by itself once the budget
is set or raised.

An earmark is one conditional UPDATE (``... WHERE total - committed >= amount``): two
workers racing for the last money cannot both win, on PostgreSQL (the row is locked by the
first UPDATE and the second re-checks the condition after it commits) or on SQLite (writers
are serialized). Every ledger entry carries the job id that wrote it (UNIQUE), so a job run
twice earmarks, releases or pays once.
"""
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from engine.core.db import table_of
from engine.core import access, audit
from engine.core.jobs import JobQueue, resume_waiting
from engine.core.models import Job, Town, User, utcnow
from engine.errors import (
    BusinessRuleError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Text,
    ValidationError,
    WaitingError,
)
from engine.method.models import Budget, BudgetChange, LedgerEntry

BUDGETS = table_of(Budget)


def to_fen(yuan: Any) -> int:
    """Yuan (a number or a numeric string) to integer fen, rounding half up."""
    try:
        amount = Decimal(str(yuan)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError("An amount must be a number of yuan.", errors={"amount": [str(yuan)]}) from exc
    if amount <= 0:
        raise ValidationError("An amount must be positive.", errors={"amount": [str(yuan)]})
    return int(amount * 100)


def yuan(fen: int) -> str:
    """Fen to a yuan string with two decimals (for results and documents)."""
    return f"{Decimal(fen) / 100:.2f}"


MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_TOTAL_FEN = 10**14  # a trillion yuan: far above any town's budget, far below BIGINT


def budget_key(town_id: int, year: int) -> str:
    """What an earmark waiting for the town's budget of ``year`` waits for."""
    return f"budget:{town_id}:{year}"


def parse_key(waiting_for: str | None) -> tuple[int, int] | None:
    """``(town id, year)`` of a :func:`budget_key`, None for any other key."""
    kind, _, rest = (waiting_for or "").partition(":")
    town, _, year = rest.partition(":")
    return (int(town), int(year)) if kind == "budget" and town.isdigit() and year.isdigit() else None


def check_year(year: object) -> int:
    """A fiscal year as an int (ValidationError for anything else)."""
    try:
        value = int(str(year).strip())
    except ValueError:
        value = None
    if value is None or not MIN_YEAR <= value <= MAX_YEAR:
        raise ValidationError(Text("Enter a year between %(low)s and %(high)s.", low=MIN_YEAR, high=MAX_YEAR),
                              errors={"year": [Text("Enter a year between %(low)s and %(high)s.", low=MIN_YEAR,
                                                    high=MAX_YEAR)]})
    return value


def set_budget(session: Session, town_id: int, year: object, total_yuan: object, actor: str = "system",
               now: datetime | None = None, note: str = "") -> Budget:
    """Create or change a town's budget for a year, never below what is committed.

    The change is recorded (who, when, old and new total, why), and earmarks that waited
    for this budget go back to the queue in the same transaction. Bad input raises
    ValidationError and changes nothing.
    """
    year = check_year(year)
    try:
        total = to_fen(total_yuan)
    except ValidationError as exc:
        raise ValidationError(exc.message, errors={"total": [exc.message]}) from exc
    if total > MAX_TOTAL_FEN:
        message = Text("A budget is at most %(amount)s yuan.", amount=yuan(MAX_TOTAL_FEN))
        raise ValidationError(message, errors={"total": [message]})
    if session.get(Town, town_id) is None:
        raise NotFoundError(Text("No town %(town)s.", town=town_id))
    now = now or utcnow()
    _lock_town(session, town_id)
    budget = session.scalar(select(Budget).where(Budget.town_id == town_id, Budget.year == year)
                            .with_for_update().execution_options(populate_existing=True))
    old = None
    if budget is None:
        budget = Budget(town_id=town_id, year=year, total_fen=total, committed_fen=0, paid_fen=0)
        session.add(budget)
    elif total < budget.committed_fen:
        message = Text("The budget cannot be less than the %(amount)s yuan already committed to projects.",
                       amount=yuan(budget.committed_fen))
        raise ValidationError(message, errors={"total": [message]})
    else:
        old = budget.total_fen
        budget.total_fen = total
    session.flush()
    if old != total:
        session.add(BudgetChange(budget_id=budget.id, old_total_fen=old, new_total_fen=total, changed_by=actor,
                                 changed_at=now, note=(note or "")[:300]))
        audit.record(session, actor, "budget_set", budget_key(town_id, year),
                     {"old": yuan(old) if old is not None else None, "new": yuan(total), "note": note}, ts=now)
        resume_waiting(session, budget_key(town_id, year), now)
    session.flush()
    return budget


def _lock_town(session: Session, town_id: int) -> None:
    """Lock the town's row: setting a budget and parking an earmark that waits for it take
    this lock first, so the one that comes second sees what the first did."""
    session.execute(select(Town.id).where(Town.id == town_id).with_for_update())


def budget_arrived(town_id: int, year: int, amount_fen: int) -> Callable[[Session], bool]:
    """Whether the town's budget for the year now has ``amount_fen`` left (asked when an
    earmark that found too little is about to wait)."""
    def arrived(session: Session) -> bool:
        _lock_town(session, town_id)
        budget = find_budget(session, town_id, year)
        return budget is not None and budget.total_fen - budget.committed_fen >= amount_fen
    return arrived


def get_budget(session: Session, town_id: int, year: int) -> Budget:
    budget = find_budget(session, town_id, year)
    if budget is None:
        raise NotFoundError(Text("Town %(town)s has no budget for %(year)s.", town=town_id, year=year))
    return budget


def find_budget(session: Session, town_id: int, year: int) -> Budget | None:
    """The town's budget for the year read afresh, or None."""
    return session.scalar(select(Budget).where(Budget.town_id == town_id, Budget.year == year)
                          .execution_options(populate_existing=True))


def budget_changes(session: Session, budget_id: int) -> list[BudgetChange]:
    """The budget's changes, newest first."""
    return list(session.scalars(select(BudgetChange).where(BudgetChange.budget_id == budget_id)
                                .order_by(BudgetChange.changed_at.desc(), BudgetChange.id.desc())))


def _entry_result(entry: LedgerEntry, budget: Budget) -> dict[str, Any]:
    return {"entry_id": entry.id, "kind": entry.kind, "amount_fen": entry.amount_fen, "amount": yuan(entry.amount_fen),
            "budget_year": budget.year, "remaining": yuan(budget.total_fen - budget.committed_fen)}


def _done(session: Session, job_id: int | None) -> tuple[LedgerEntry, Budget] | None:
    if job_id is None:
        return None
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.job_id == job_id))
    return (entry, session.get_one(Budget, entry.budget_id)) if entry else None


def earmark(session: Session, job_id: int, instance_id: int, town_id: int, year: int, amount_fen: int, now: datetime,
            note: str = "") -> dict[str, Any]:
    """Reserve ``amount_fen`` of the town's budget for the project.

    When the town has no budget for the year, or less is left, raises ``WaitingError``: the
    job waits for the budget (see :func:`set_budget`) and the town is told what to do.
    """
    done = _done(session, job_id)
    if done:
        return _entry_result(*done)
    budget = find_budget(session, town_id, year)
    if budget is None:
        raise WaitingError(Text("Town %(town)s has no budget for %(year)s.", town=town_id, year=year),
                           waiting_for=budget_key(town_id, year), arrived=budget_arrived(town_id, year, amount_fen))
    taken = cast(CursorResult[Any], session.execute(
        update(BUDGETS).where(BUDGETS.c.id == budget.id, BUDGETS.c.total_fen - BUDGETS.c.committed_fen >= amount_fen)
        .values(committed_fen=BUDGETS.c.committed_fen + amount_fen))).rowcount
    budget = get_budget(session, town_id, year)
    if not taken:
        raise WaitingError(
            Text("Only %(left)s yuan are left of the %(year)s budget; %(needed)s yuan are needed.",
                 left=yuan(budget.total_fen - budget.committed_fen), year=year, needed=yuan(amount_fen)),
            waiting_for=budget_key(town_id, year), arrived=budget_arrived(town_id, year, amount_fen))
    entry = LedgerEntry(budget_id=budget.id, instance_id=instance_id, job_id=job_id, kind="earmark",
                        amount_fen=amount_fen, note=note, created_at=now)
    session.add(entry)
    session.flush()
    return _entry_result(entry, budget)


def held_for(session: Session, instance_id: int) -> dict[int, int]:
    """{budget id: fen earmarked for the instance and neither released nor paid}."""
    rows = session.execute(select(LedgerEntry.budget_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_fen))
                           .where(LedgerEntry.instance_id == instance_id)
                           .group_by(LedgerEntry.budget_id, LedgerEntry.kind)).all()
    held: dict[int, int] = {}
    for budget_id, kind, total in rows:
        held[budget_id] = held.get(budget_id, 0) + (int(total) if kind == "earmark" else -int(total))
    return {k: v for k, v in held.items() if v > 0}


def release(session: Session, job_id: int | None, instance_id: int, now: datetime,
            note: str = "project rejected or terminated") -> dict[str, Any]:
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
        budget = session.get_one(Budget, budget_id)
        session.refresh(budget)
        result = _entry_result(entry, budget)
        job_id = None  # one entry per budget; only the first carries the job id
    return result


def record_payment(session: Session, job_id: int, instance_id: int, amount_fen: int, now: datetime,
                   note: str = "") -> None:
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


def balance(session: Session, town_id: int, year: int) -> dict[str, int]:
    """The budget's figures, and the ledger's sums (which must agree with them)."""
    budget = get_budget(session, town_id, year)
    sums = {kind: int(total) for kind, total in session.execute(
        select(LedgerEntry.kind, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.budget_id == budget.id).group_by(LedgerEntry.kind))}
    return {"total_fen": budget.total_fen, "committed_fen": budget.committed_fen, "paid_fen": budget.paid_fen,
            "remaining_fen": budget.total_fen - budget.committed_fen,
            "ledger_committed_fen": sums.get("earmark", 0) - sums.get("release", 0),
            "ledger_paid_fen": sums.get("payment", 0)}


def decide_otherwise(session: Session, queue: JobQueue, user: User, job_id: int) -> Job:
    """The town gives up waiting for the budget: the earmark's task takes the diagram's
    ``insufficient_funds`` path (the purchase decision is taken again).

    Only the town government of the project's town or an administrator may; the job must be
    waiting for a budget.
    """
    job = session.get(Job, job_id)
    key = parse_key(job.waiting_for) if job is not None and job.state == "waiting" else None
    if key is None:
        raise ConflictError("This project no longer waits for a budget.")
    if not access.holds_or_admin(session, user, "town_government", "town", key[0]):
        raise ForbiddenError("Only the town government decides on the purchase.")
    return queue.reroute_waiting(session, job_id, "insufficient_funds",
                                 Text("The town decides again instead of waiting for the %(year)s budget.",
                                      year=key[1]), user.username)
