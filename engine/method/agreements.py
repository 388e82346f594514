"""Step 5: the purchase agreement, sealed and signed.

The document is generated from the application (parties, service content, amount,
installments, acceptance criteria, term) and stored as canonical JSON (sorted keys, no
spaces, UTF-8) with its SHA-256 as the seal. Each signature records who signed for which
side, when, and the seal of the text they signed. ``verify`` recomputes the seal: any change
to the content after signing - or a new seal written over changed content - is detected.
"""
import hashlib
import json
from datetime import timedelta, datetime
from decimal import Decimal
from typing import Any
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import BusinessRuleError, ConflictError, NotFoundError, Text, ValidationError
from engine.method import agreement_text
from engine.method.funds import to_fen, yuan
from engine.core.models import CatalogItem, Community, Instance, Organization, Task, Town
from engine.method.models import Agreement, AgreementSignature

PARTIES = ("purchaser", "contractor")
# The user tasks whose page shows the agreement in full (BPMN ids of the deployed diagram).
SIGNING_TASKS = frozenset({"sign_purchaser", "sign_contractor"})
DEFAULT_INSTALLMENTS = (("on_signing", "30"), ("on_acceptance", "70"))


def canonical_json(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def seal_of(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def split_installments(amount_fen: int, shares: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """[(label, percent), ...] -> installments whose amounts add up exactly to ``amount_fen``."""
    percents = [Decimal(str(p)) for _, p in shares]
    if sum(percents) != 100 or any(p <= 0 for p in percents):
        raise ValidationError("Installment shares must be positive and add up to 100%.",
                              errors={"installments": [str([str(p) for p in percents])]})
    rows: list[dict[str, Any]] = []
    paid = 0
    for number, ((label, _), percent) in enumerate(zip(shares, percents), start=1):
        amount = amount_fen - paid if number == len(shares) else int(amount_fen * percent / 100)
        paid += amount
        rows.append({"no": number, "label": label, "percent": str(percent), "amount_fen": amount, "amount": yuan(amount)})
    return rows


def installments_of_amounts(amount_fen: int, amounts: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    """[(label, yuan), ...] as the town decided them -> installments; they must add up to
    ``amount_fen`` exactly (ValidationError otherwise)."""
    rows: list[dict[str, Any]] = []
    for number, (label, value) in enumerate(amounts, start=1):
        fen = to_fen(value)
        rows.append({"no": number, "label": label, "percent": str((Decimal(fen) * 100 / amount_fen).quantize(
            Decimal("0.01"))), "amount_fen": fen, "amount": yuan(fen)})
    if not rows or sum(row["amount_fen"] for row in rows) != amount_fen:
        raise ValidationError(Text("The installments add up to %(sum)s yuan, not the amount of %(amount)s yuan.",
                                   sum=yuan(sum(row["amount_fen"] for row in rows)), amount=yuan(amount_fen)),
                              errors={"installments": [yuan(row["amount_fen"]) for row in rows]})
    return rows


def build_content(session: Session, instance: Instance, project: dict[str, Any], amount_fen: int,
                  application: dict[str, Any] | None = None,
                  installments: Sequence[tuple[str, str]] = DEFAULT_INSTALLMENTS, criteria: list[str] | None = None,
                  term_days: int = 180, start: datetime | None = None,
                  installment_amounts: Sequence[tuple[str, Any]] | None = None) -> dict[str, Any]:
    """The agreement's content from the project and its application (plain JSON).

    ``installment_amounts`` (label, yuan) as the town decided them take the place of the
    percentage ``installments``.
    """
    application = application or {}
    community = session.get_one(Community, instance.community_id)
    town = session.get_one(Town, community.town_id)
    org = session.get_one(Organization, instance.organization_id)
    item = session.get(CatalogItem, instance.catalog_item_id) if instance.catalog_item_id else None
    begin = (start or instance.started_at).date()
    return {
        "title": f"Purchase agreement: {instance.title}",
        "project_title": instance.title,
        # The town signs as its government (柳市镇人民政府) or office (盐盆街道办事处).
        "purchaser": {"role": "purchaser", "town_id": town.id, "name": town.name + agreement_text.PURCHASER_SUFFIX.get(
            town.kind, "")},
        "contractor": {"role": "contractor", "organization_id": org.id, "name": org.name,
                       "credit_code": org.credit_code or ""},
        "community": {"id": community.id, "name": community.name},
        "service": {"item": item.name if item else project.get("item_name", ""),
                    "service_field": item.service_field if item else project.get("service_field", ""),
                    "goals": application.get("goals", ""), "phases": application.get("phases", ""),
                    "expected_effect": application.get("expected_effect", ""),
                    "content": application.get("content", application.get("summary", instance.title))},
        "amount_fen": amount_fen, "amount": yuan(amount_fen), "currency": "CNY",
        "installments": (installments_of_amounts(amount_fen, list(installment_amounts)) if installment_amounts
                         else split_installments(amount_fen, list(installments))),
        "acceptance_criteria": list(criteria or [
            "按经表决通过的项目申请书完成全部服务",
            "评议小组评分的平均分达到合格分",
            "提交自评估报告（社会工作项目另附社会工作案例）"]),
        "rights_and_duties": {
            "purchaser": ["pay the installments on time", "support access to the community"],
            "contractor": ["deliver the approved plan", "report progress", "accept supervision and evaluation"]},
        "term": {"start": begin.isoformat(), "end": (begin + timedelta(days=int(term_days))).isoformat()},
        "instance_id": instance.id,
    }


def draft(session: Session, job_id: int, instance_id: int, project: dict[str, Any], amount_fen: int, now: datetime,
          **terms: Any) -> dict[str, Any]:
    """Generate and seal the agreement (once per job); returns its summary."""
    existing = session.scalar(select(Agreement).where(Agreement.job_id == job_id)) if job_id else None
    if existing is not None:
        return summary(existing)
    instance = session.get_one(Instance, instance_id)
    content = build_content(session, instance, project, amount_fen, **terms)
    count = len(session.scalars(select(Agreement.id).where(Agreement.instance_id == instance_id)).all())
    content["number"] = f"SS-{instance_id:06d}-{count + 1}"
    # The words are sealed with the terms: both sides sign the text they read.
    content["text"] = agreement_text.render(agreement_text.template_for(session, content["purchaser"]["town_id"]), content)
    agreement = Agreement(instance_id=instance_id, job_id=job_id, number=content["number"], content=content,
                          canonical=canonical_json(content), seal=seal_of(content), status="draft", created_at=now)
    session.add(agreement)
    session.flush()
    return summary(agreement)


def summary(agreement: Agreement) -> dict[str, Any]:
    return {"agreement_id": agreement.id, "number": agreement.number, "seal": agreement.seal,
            "status": agreement.status, "amount": agreement.content.get("amount"),
            "installments": [{k: i[k] for k in ("no", "label", "amount")} for i in agreement.content["installments"]],
            "signatures": [{"party": s.party, "username": s.username, "signed_at": s.signed_at.isoformat()}
                           for s in agreement.signatures]}


def latest(session: Session, instance_id: int) -> Agreement:
    agreement = session.scalar(select(Agreement).where(Agreement.instance_id == instance_id)
                               .order_by(Agreement.id.desc()).limit(1))
    if agreement is None:
        raise NotFoundError(Text("Project %(id)s has no agreement.", id=instance_id))
    return agreement


def text_of(session: Session, agreement: Agreement) -> str:
    """The agreement's words: the sealed ones, or, for an agreement drafted before its words
    were sealed with it, the town's current text filled from its content."""
    if agreement.content.get("text"):
        return agreement.content["text"]
    town_id = agreement.content["purchaser"]["town_id"]
    return agreement_text.render(agreement_text.template_for(session, town_id), agreement.content)


def find(session: Session, agreement_id: int) -> Agreement:
    """The agreement, or NotFoundError."""
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFoundError(Text("Agreement %(id)s does not exist.", id=agreement_id))
    return agreement


def latest_or_none(session: Session, instance_id: int) -> Agreement | None:
    """The project's newest agreement, if it has one."""
    return session.scalar(select(Agreement).where(Agreement.instance_id == instance_id)
                          .order_by(Agreement.id.desc()).limit(1))


def verify(agreement: Agreement) -> dict[str, Any]:
    """Check the stored content against its seal and every signature's seal."""
    problems: list[str] = []
    computed = seal_of(agreement.content)
    if computed != agreement.seal:
        problems.append("content changed after it was sealed")
    if canonical_json(agreement.content) != agreement.canonical:
        problems.append("stored text differs from the content")
    for signature in agreement.signatures:
        if signature.seal != computed:
            problems.append(f"{signature.party}'s signature was given to a different text")
    return {"ok": not problems, "seal": agreement.seal, "computed": computed, "problems": problems,
            "agreement_id": agreement.id, "number": agreement.number}


def sign(session: Session, agreement: Agreement, party: str, username: str, now: datetime | None,
         seal: str | None = None) -> AgreementSignature:
    """Record ``username``'s signature for ``party`` on the sealed text they saw (``seal``)."""
    if party not in PARTIES:
        raise ValidationError(Text("Unknown party %(party)r.", party=party),
                              errors={"party": [Text("Choose one of %(parties)s.", parties=", ".join(PARTIES))]})
    check = verify(agreement)
    if not check["ok"]:
        raise BusinessRuleError(Text("The agreement was changed: %(problems)s", problems="; ".join(check["problems"])),
                                code="agreement_tampered")
    if seal is not None and seal != agreement.seal:
        raise BusinessRuleError("The signed text is not the sealed agreement.", code="agreement_tampered")
    existing = next((s for s in agreement.signatures if s.party == party), None)
    if existing is not None:
        if existing.username == username:
            return existing
        raise ConflictError(Text("The %(party)s already signed (%(user)s).", party=party, user=existing.username))
    signature = AgreementSignature(party=party, username=username, signed_at=now, seal=agreement.seal)
    agreement.signatures.append(signature)
    if {s.party for s in agreement.signatures} == set(PARTIES):
        agreement.status = "signed"
    session.flush()
    return signature


def signers_from_tasks(session: Session, agreement: Agreement) -> dict[str, tuple[str, datetime | None]]:
    """{party: (username, completed_at)} from the signing tasks done after the agreement was
    drafted: the town government's for the purchaser, the organization's for the contractor."""
    rows = session.execute(
        select(Task.role, Task.completed_by, Task.completed_at)
        .where(Task.instance_id == agreement.instance_id, Task.state == "completed", Task.step == 5,
               Task.role.in_(("town_government", "social_organization")), Task.completed_at >= agreement.created_at)
        .order_by(Task.completed_at)).all()
    party_of = {"town_government": "purchaser", "social_organization": "contractor"}
    return {party_of[role]: (who, when) for role, who, when in rows if who}
