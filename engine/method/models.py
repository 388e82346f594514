"""Tables for the rules of the method: budgets and their ledger, agreements, payments, decisions.

Every effect a service-task handler writes carries the id of the job that wrote it in a
UNIQUE column (or a natural unique key such as agreement + installment), so a job that runs
twice cannot double its effect. Money is stored in fen (1/100 yuan) as integers: sums are
exact on SQLite and PostgreSQL alike.
"""
from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.core.db import Base
from engine.core.models import BigId, utcnow


class Budget(Base):
    """A town's purchase budget for one year.

    ``committed_fen`` is what is earmarked for projects and not released (paid money stays
    committed); what is left is ``total_fen - committed_fen`` and never goes below zero.
    """
    __tablename__ = "budgets"
    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"))
    year: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    committed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    __table_args__ = (UniqueConstraint("town_id", "year"),)


class BudgetChange(Base):
    """One setting or raising of a budget: who, when, the total before (None for a new
    budget) and after, and why."""
    __tablename__ = "budget_changes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    old_total_fen: Mapped[int | None] = mapped_column(BigInteger)
    new_total_fen: Mapped[int] = mapped_column(BigInteger)
    changed_by: Mapped[str] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(300), default="")


class LedgerEntry(Base):
    """One movement on a budget: earmark (+committed), release (-committed) or payment."""
    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    instance_id: Mapped[int] = mapped_column(BigInteger, index=True)
    job_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)  # exactly once per job
    kind: Mapped[str] = mapped_column(String(20))  # earmark | release | payment
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Agreement(Base):
    """A purchase agreement: canonical JSON content sealed with its SHA-256."""
    __tablename__ = "agreements"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(BigInteger, index=True)
    job_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    canonical: Mapped[str] = mapped_column(Text)
    seal: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | signed
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    signatures: Mapped[list["AgreementSignature"]] = relationship(
        back_populates="agreement", cascade="all, delete-orphan", order_by="AgreementSignature.id")


class AgreementSignature(Base):
    """Who signed for which side, when, and the seal of the text they signed."""
    __tablename__ = "agreement_signatures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    party: Mapped[str] = mapped_column(String(20))  # purchaser | contractor
    username: Mapped[str] = mapped_column(String(80))
    signed_at: Mapped[datetime] = mapped_column(DateTime)
    seal: Mapped[str] = mapped_column(String(64))
    agreement: Mapped[Agreement] = relationship(back_populates="signatures")
    __table_args__ = (UniqueConstraint("agreement_id", "party"),)


class Payment(Base):
    """One installment of an agreement, paid exactly once."""
    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    instance_id: Mapped[int] = mapped_column(BigInteger, index=True)
    installment: Mapped[int] = mapped_column(Integer)  # 1-based, as the agreement lists them
    label: Mapped[str] = mapped_column(String(60), default="")
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    paid_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("agreement_id", "installment"),)


class Decision(Base):
    """A rule's recorded outcome: eligibility screening, vote tally, panel check, acceptance.

    ``details`` holds the figures the outcome was computed from (counts, scores, reasons),
    so the decision can be shown and audited without replaying the process.
    """
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(30))  # eligibility | vote | panel | acceptance
    outcome: Mapped[str] = mapped_column(String(30))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (Index("ix_decisions_instance", "instance_id", "kind"),)


class CatalogApproval(Base):
    """The town's approval of one community's catalog for one year: who approved, when, and
    the items (with the revision of each) that the approval covered."""
    __tablename__ = "catalog_approvals"
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    year: Mapped[int] = mapped_column(Integer)
    approved_by: Mapped[str] = mapped_column(String(80))
    approved_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{"id", "code", "name", "revision"}]
    __table_args__ = (Index("ix_catalog_approvals_community_year", "community_id", "year"),)


class OrganizationBranch(Base):
    """A branch (分支机构) or service point of a social organization."""
    __tablename__ = "organization_branches"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("organization_id", "name"),)


__all__ = ["CatalogApproval", "OrganizationBranch", "Budget", "BudgetChange", "LedgerEntry", "Agreement", "AgreementSignature", "Payment", "Decision"]


class AgreementTemplate(Base):
    """A town's text of the purchase agreement, with ``${name}`` places filled from the project;
    towns without one use the default text (engine.documents.agreement_text)."""
    __tablename__ = "agreement_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), unique=True)
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AgreementDocument(Base):
    """The PDF of a signed agreement, made once and kept as made: its SHA-256 identifies it."""
    __tablename__ = "agreement_documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
