"""The project record (项目档案): what a town's archive clerk files for one project.

Its outcome (vote, acceptance), its money (decided, earmarked, each installment paid with its
date, remaining), its documents and the files uploaded with its forms. The forms themselves
and the timeline come from ``listings``.
"""
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.models import Attachment, CatalogItem, Community, Instance, Organization, Town
from engine.method.models import Agreement, Decision, LedgerEntry, Payment
from engine.queries import notices


@dataclass(frozen=True)
class Installment:
    no: int
    label: str
    amount_fen: int
    paid_at: datetime | None


@dataclass(frozen=True)
class Money:
    decided_fen: int | None  # the agreement's amount
    earmarked_fen: int  # held in the town's budget now (earmarked, less released and paid)
    paid_fen: int
    installments: list[Installment]

    @property
    def remaining_fen(self) -> int | None:
        """Still to pay under the agreement."""
        return None if self.decided_fen is None else self.decided_fen - self.paid_fen


@dataclass(frozen=True)
class Acceptance:
    accepted: bool
    average: str
    pass_score: str
    count: int
    decided_at: datetime


@dataclass(frozen=True)
class ProjectRecord:
    instance: Instance
    community: Community
    town: Town
    organization: Organization | None
    item_name: str
    votes: list[notices.Announcement]
    acceptance: Acceptance | None
    agreement: Agreement | None
    money: Money
    attachments: list[Attachment] = field(default_factory=list)


def _money(session, instance_id: int, agreement: Agreement | None) -> Money:
    sums = dict(session.execute(select(LedgerEntry.kind, func.sum(LedgerEntry.amount_fen))
                                .where(LedgerEntry.instance_id == instance_id).group_by(LedgerEntry.kind)).all())
    payments = {p.installment: p for p in session.scalars(select(Payment).where(Payment.instance_id == instance_id))}
    paid = sum(p.amount_fen for p in payments.values())
    held = int(sums.get("earmark") or 0) - int(sums.get("release") or 0) - int(sums.get("payment") or 0)
    installments = []
    if agreement is not None:
        for row in agreement.content.get("installments") or []:
            payment = payments.get(row["no"])
            installments.append(Installment(row["no"], row.get("label", ""), int(row["amount_fen"]),
                                            payment.paid_at if payment else None))
    decided = int(agreement.content["amount_fen"]) if agreement is not None else None
    return Money(decided_fen=decided, earmarked_fen=max(held, 0), paid_fen=paid, installments=installments)


def _acceptance(session, instance_id: int) -> Acceptance | None:
    decision = session.scalar(select(Decision).where(Decision.instance_id == instance_id,
                                                     Decision.kind == "acceptance").order_by(Decision.id.desc()))
    if decision is None:
        return None
    details = decision.details or {}
    return Acceptance(accepted=bool(details.get("accepted")), average=str(details.get("average", "")),
                      pass_score=str(details.get("pass_score", "")), count=int(details.get("count") or 0),
                      decided_at=decision.created_at)


def project_record(session: Session, instance: Instance) -> ProjectRecord:
    """Everything the record shows of ``instance`` (visibility is the caller's check)."""
    community = session.get_one(Community, instance.community_id)
    item = session.get(CatalogItem, instance.catalog_item_id) if instance.catalog_item_id else None
    agreement = session.scalar(select(Agreement).where(Agreement.instance_id == instance.id)
                               .order_by(Agreement.id.desc()).limit(1))
    return ProjectRecord(
        instance=instance, community=community, town=session.get_one(Town, community.town_id),
        organization=session.get(Organization, instance.organization_id) if instance.organization_id else None,
        item_name=item.name if item else "", votes=notices.announcements_of(session, instance),
        acceptance=_acceptance(session, instance.id), agreement=agreement,
        money=_money(session, instance.id, agreement),
        attachments=list(session.scalars(select(Attachment).where(Attachment.instance_id == instance.id)
                                         .order_by(Attachment.uploaded_at, Attachment.id))))
