"""Payment of an agreement's installments, each exactly once.

A payment is unique per agreement and installment, and per job; paying an installment that
is already paid returns the same payment instead of paying again. Nothing is paid on an
agreement that is not signed by both sides or whose content no longer matches its seal.
"""
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import notifications
from engine.core.access import scope_for
from engine.core.models import Instance
from engine.method import agreements
from engine.method import funds
from engine.errors import BusinessRuleError, Text
from engine.method.models import Agreement, Payment


def _result(payment: Payment, agreement: Agreement) -> dict[str, Any]:
    return {"payment_id": payment.id, "agreement": agreement.number, "installment": payment.installment,
            "label": payment.label, "amount_fen": payment.amount_fen, "amount": funds.yuan(payment.amount_fen),
            "paid_at": payment.paid_at.isoformat()}


def find_installment(agreement: Agreement, installment: int | str) -> dict[str, Any]:
    """An installment of the agreement by number (1-based) or label (``on_signing``)."""
    for row in agreement.content["installments"]:
        if str(row["no"]) == str(installment) or row["label"] == installment:
            return row
    raise BusinessRuleError(Text("Agreement %(number)s has no installment %(installment)r.", number=agreement.number,
                                 installment=installment), code="no_installment")


def pay(session: Session, job_id: int, instance_id: int, installment: int | str, now: datetime) -> dict[str, Any]:
    """Pay one installment of the project's agreement (once)."""
    agreement = agreements.latest(session, instance_id)
    row = find_installment(agreement, installment)
    paid = session.scalar(select(Payment).where(Payment.agreement_id == agreement.id, Payment.installment == row["no"]))
    if paid is not None:
        return _result(paid, agreement)
    check = agreements.verify(agreement)
    if not check["ok"]:
        raise BusinessRuleError(Text("The agreement was changed after signing: %(problems)s",
                                     problems="; ".join(check["problems"])), code="agreement_tampered")
    if agreement.status != "signed":
        raise BusinessRuleError(Text("Agreement %(number)s is not signed by both sides.", number=agreement.number),
                                code="not_signed")
    payment = Payment(agreement_id=agreement.id, instance_id=instance_id, installment=row["no"], label=row["label"],
                      amount_fen=row["amount_fen"], job_id=job_id, paid_at=now)
    session.add(payment)
    session.flush()
    funds.record_payment(session, job_id, instance_id, row["amount_fen"], now,
                         note=f"{agreement.number} installment {row['no']} ({row['label']})")
    _announce(session, instance_id, payment, now)
    return _result(payment, agreement)


# Who hears that an installment was paid: the organization paid, the community and the town.
PAYMENT_ROLES = ("social_organization", "community_committee", "town_government")


def _announce(session: Session, instance_id: int, payment: Payment, now: datetime) -> None:
    instance = session.get(Instance, instance_id)
    if instance is None:
        return
    people: list[str] = []
    for role in PAYMENT_ROLES:
        scope_type, scope_id = scope_for(role, instance.town_id, instance.community_id, instance.organization_id)
        people += notifications.recipients(session, role, scope_type, scope_id)
    notifications.notify(
        session, people, f"Paid for '{instance.title}': installment {payment.installment}, {funds.yuan(payment.amount_fen)} yuan",
        instance_id=instance_id, now=now, kind=notifications.NotificationKind.PAYMENT_MADE,
        params={"title": instance.title, "installment": payment.installment, "label": payment.label,
                "amount_fen": payment.amount_fen})


def paid_total(session: Session, instance_id: int) -> int:
    return sum(int(a) for a in session.scalars(select(Payment.amount_fen).where(Payment.instance_id == instance_id)))
