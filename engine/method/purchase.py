"""Step 5: the town's purchase decision follows the vote.

The amount bought may not exceed the budget total of the application version the
residents' representatives voted on (the last vote that passed), and the installments the
town enters add up to that amount exactly. The rule checks a submitted form before the
task completes, so a refused decision changes nothing.
"""
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.models import Job
from engine.errors import Text
from engine.method.funds import yuan
from engine.method.models import Decision

FORM = "purchase_decision.schema.json"
# The application field the vote covered, and the decision's fields.
VOTED_TOTAL = "application_budget_total"
AMOUNT, INSTALLMENTS = "purchase_amount", ("purchase_first_installment", "purchase_final_installment")


def _fen(value: object) -> int | None:
    try:
        return int((Decimal(str(value)) * 100).to_integral_value())
    except (InvalidOperation, ValueError):
        return None


def voted_total_fen(session: Session, instance_id: int) -> int | None:
    """The budget total (fen) of the application as it stood at the last vote that passed.

    Read from the task data the tally job was given, which is the application the
    representatives had before them. None when no vote passed.
    """
    rows = session.execute(
        select(Decision.details, Job.variables).join(Job, Job.id == Decision.job_id)
        .where(Decision.instance_id == instance_id, Decision.kind == "vote")
        .order_by(Decision.created_at.desc(), Decision.id.desc())).all()
    for details, variables in rows:
        if (details or {}).get("passed"):
            return _fen((variables or {}).get(VOTED_TOTAL))
    return None


def check_decision(session: Session, instance_id: int, data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field errors of a purchase decision (empty when it may be taken)."""
    if not data.get("purchase_buy"):
        return {}
    errors: dict[str, list[str]] = {}
    amount = _fen(data.get(AMOUNT))
    if amount is None:
        return errors  # the form's schema already says what is missing
    if amount <= 0:
        errors[AMOUNT] = [Text("The amount must be more than zero.")]
    voted = voted_total_fen(session, instance_id)
    if voted is not None and amount > voted:
        errors.setdefault(AMOUNT, []).append(Text(
            "The amount may not exceed the %(voted)s yuan of the application the representatives voted on.",
            voted=yuan(voted)))
    found = [_fen(data.get(name)) for name in INSTALLMENTS]
    parts = [part for part in found if part is not None]
    if len(parts) == len(INSTALLMENTS):
        if any(part <= 0 for part in parts):
            for name, part in zip(INSTALLMENTS, parts):
                if part <= 0:
                    errors[name] = [Text("An installment must be more than zero.")]
        elif sum(parts) != amount:
            message = Text("The installments add up to %(sum)s yuan, not the amount of %(amount)s yuan.",
                           sum=yuan(sum(parts)), amount=yuan(amount))
            for name in INSTALLMENTS:
                errors[name] = [message]
    return errors


# Rules a submitted form must pass besides its schema: {form file: check}.
FORM_RULES = {FORM: check_decision}
