"""The signed purchase agreement as a document: its page, its PDF and the check of a copy.

The PDF is made once, after both sides signed the sealed text, and kept as made: the
SHA-256 of its bytes identifies it, the agreement's seal is printed in it (and in its
metadata). ``check_file`` and ``check_hash`` say whether a copy someone holds is that PDF,
or a seal that of an agreement, and whether the agreement is unchanged since it was sealed.
"""
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import BusinessRuleError, NotFoundError, Text, ValidationError
from engine.method import agreement_text, agreements
from engine.method.models import Agreement, AgreementDocument
from engine.queries.listings import display_names
from engine.documents.pdf import render_pdf

TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                               autoescape=True, undefined=jinja2.StrictUndefined)
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Signer:
    party: str  # purchaser | contractor
    name: str  # display name
    signed_at: datetime


@dataclass(frozen=True)
class AgreementView:
    """What a page or the PDF shows of one agreement."""
    agreement_id: int
    instance_id: int
    number: str
    status: str
    seal: str
    purchaser: str
    contractor: str
    credit_code: str
    amount: str  # figures, with thousands separated
    amount_capital: str
    blocks: list[dict]
    signers: list[Signer]
    intact: bool  # the content still matches its seal
    problems: list[str] = field(default_factory=list)

    @property
    def signed(self) -> bool:
        return self.status == "signed"


def view_of(session: Session, agreement: Agreement) -> AgreementView:
    """The agreement's words as blocks, its parties, amount and signers by display name."""
    names = display_names(session, {s.username for s in agreement.signatures})
    values = agreement_text.values_of(agreement.content)
    check = agreements.verify(agreement)
    return AgreementView(
        agreement_id=agreement.id, instance_id=agreement.instance_id, number=agreement.number,
        status=agreement.status, seal=agreement.seal, purchaser=values["purchaser"],
        contractor=values["contractor"], credit_code=values["credit_code"], amount=values["amount"],
        amount_capital=values["amount_capital"], blocks=agreement_text.blocks(agreements.text_of(session, agreement)),
        signers=[Signer(s.party, names.get(s.username) or s.username, s.signed_at) for s in agreement.signatures],
        intact=check["ok"], problems=check["problems"])


def html_of(view: AgreementView, made_at: datetime) -> str:
    """The agreement as a printable HTML page (A4), the source of its PDF."""
    return TEMPLATES.get_template("agreement.html").render(view=view, made_at=made_at,
                                                           chinese_date=chinese_datetime)


def chinese_datetime(moment: datetime) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日"


def document_of(session: Session, agreement: Agreement, now: datetime) -> AgreementDocument:
    """The PDF of the signed agreement, made on first request and kept as made.

    BusinessRuleError while a side has not signed or when the content no longer matches its seal.
    """
    existing = session.scalar(select(AgreementDocument).where(AgreementDocument.agreement_id == agreement.id))
    if existing is not None:
        return existing
    view = view_of(session, agreement)
    if not view.signed:
        raise BusinessRuleError("The PDF is made once both sides have signed.", code="agreement_unsigned")
    if not view.intact:
        raise BusinessRuleError(Text("The agreement was changed: %(problems)s", problems="; ".join(view.problems)),
                                code="agreement_tampered")
    pdf = render_pdf(html_of(view, now))
    document = AgreementDocument(agreement_id=agreement.id, sha256=hashlib.sha256(pdf).hexdigest(), pdf=pdf,
                                 created_at=now)
    session.add(document)
    session.flush()
    return document


@dataclass(frozen=True)
class Verdict:
    """Whether a copy (a PDF or a hash) is a sealed agreement, and which."""
    ok: bool
    kind: str  # pdf | seal | unknown
    sha256: str
    number: str = ""
    agreement_id: int | None = None
    view: AgreementView | None = None

    @property
    def sentence(self) -> str:
        """One line in English for the command line; the web page words it itself."""
        if self.kind == "unknown":
            return f"NOT VERIFIED: {self.sha256} is no sealed agreement's PDF or seal"
        what = "the sealed PDF" if self.kind == "pdf" else "the seal"
        if not self.ok:
            return f"NOT VERIFIED: {what} of agreement {self.number}, but the agreement was changed after sealing"
        if self.kind == "seal" and self.view is not None and not self.view.signed:
            return f"VERIFIED: {what} of agreement {self.number} (not yet signed by both sides)"
        return f"VERIFIED: {what} of agreement {self.number}, signed by both sides"


def check_hash(session: Session, value: str) -> Verdict:
    """A SHA-256 (64 hex digits): a kept PDF's hash or an agreement's seal? ValidationError otherwise."""
    value = value.strip().lower()
    if not HEX64.match(value):
        raise ValidationError("A SHA-256 hash is 64 hexadecimal digits.", errors={"hash": [value[:80]]})
    document = session.scalar(select(AgreementDocument).where(AgreementDocument.sha256 == value))
    if document is not None:
        return _verdict(session, session.get_one(Agreement, document.agreement_id), "pdf", value)
    agreement = session.scalar(select(Agreement).where(Agreement.seal == value).order_by(Agreement.id).limit(1))
    if agreement is not None:
        return _verdict(session, agreement, "seal", value)
    return Verdict(ok=False, kind="unknown", sha256=value)


def check_file(session: Session, data: bytes) -> Verdict:
    """Is this file the kept PDF of a signed agreement (byte for byte)?"""
    if not data:
        raise ValidationError("The file is empty.", errors={"file": ["Choose the PDF to check."]})
    return check_hash(session, hashlib.sha256(data).hexdigest())


def _verdict(session, agreement: Agreement, kind: str, value: str) -> Verdict:
    view = view_of(session, agreement)
    return Verdict(ok=view.intact, kind=kind, sha256=value, number=agreement.number, agreement_id=agreement.id,
                   view=view)


def by_number(session: Session, number: str) -> Agreement:
    """The agreement numbered ``number`` (SS-000012-1), or NotFoundError."""
    agreement = session.scalar(select(Agreement).where(Agreement.number == number.strip()))
    if agreement is None:
        raise NotFoundError(Text("No agreement is numbered %(number)s.", number=number))
    return agreement
