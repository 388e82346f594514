"""The purchase agreement as people read, sign and file it: the town's text filled from the
project, the PDF after both signatures, and the check of a copy against the seal."""
import io
import re

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from engine.core.models import Organization, User, utcnow
from engine.documents import agreement_pdf
from engine.errors import BusinessRuleError, ValidationError
from engine.method import agreement_text, agreements, funds
from engine.method.models import Agreement, AgreementDocument, AgreementTemplate

from .helpers import run_job

CREDIT_CODE = "91350100M000100Y43"


@pytest.fixture
def world(db, seed):
    with db.uow() as session:
        funds.set_budget(session, seed.town_id, 2024, 100000)
        session.get(Organization, seed.org_ids["sunshine"]).credit_code = CREDIT_CODE
        session.add(User(username="town_head", display_name="王建国"))
        session.get(User, seed.users["lead"]).display_name = "李晓红"
    return seed


def drafted(db, queue, seed, amount="76000"):
    run_job(db, queue, seed, "funds_earmark", params={"amount": amount})
    _, draft, _ = run_job(db, queue, seed, "agreement_draft", params={
        "amount": amount, "installment_amounts": [["on_signing", "22800"], ["on_acceptance", "53200"]],
        "criteria": ["探访 500 人次", "满意度 90% 以上"],
        "application": {"goals": "让独居老人每周有人探访", "phases": [
            {"phase": "招募志愿者", "start": "2024-03-01", "end": "2024-04-30", "activities": "培训 30 名志愿者"}]}})
    return draft


def signed(db, queue, seed, amount="76000"):
    draft = drafted(db, queue, seed, amount)
    run_job(db, queue, seed, "agreement_sign",
            params={"purchaser": "town_head", "contractor": "lead", "seal": draft["seal"]})
    return draft


def pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_sealed_text_names_the_parties_the_amount_and_the_terms(db, queue, world):
    draft = drafted(db, queue, world)
    with db.uow(readonly=True) as session:
        agreement = session.get(Agreement, draft["agreement_id"])
        text = agreements.text_of(session, agreement)
        assert agreement.content["text"] == text  # the words are part of what the seal covers
    assert "甲方（购买方）：柳市镇" in text
    assert "乙方（承接方）：阳光社工服务中心" in text and f"统一社会信用代码：{CREDIT_CODE}" in text
    assert "人民币76,000.00元（大写：柒万陆仟元整）" in text
    assert "第一期：协议签订后支付人民币22,800.00元（大写：贰万贰仟捌佰元整），占服务金额的30%。" in text
    assert "第二期：项目验收合格后支付人民币53,200.00元（大写：伍万叁仟贰佰元整）" in text
    assert "1. 探访 500 人次" in text and "2. 满意度 90% 以上" in text
    assert "1. 招募志愿者（2024年3月1日至2024年4月30日）：培训 30 名志愿者" in text
    assert "争议解决" in text and "乙方的权利和义务" in text
    assert "${" not in text


def test_a_towns_own_text_is_used_and_a_signed_text_never_changes_with_it(db, queue, world):
    own = "# 柳市镇购买服务协议\n甲方${purchaser}，乙方${contractor}（${credit_code}）\n金额${amount}元（${amount_capital}）\n" \
          "${installments}\n${acceptance_criteria}\n"
    with db.uow() as session:
        agreement_text.set_template(session, world.town_id, own, "admin", utcnow())
    draft = drafted(db, queue, world)
    with db.uow() as session:
        agreement = session.get(Agreement, draft["agreement_id"])
        assert agreement_text.blocks(agreements.text_of(session, agreement))[0] == {
            "kind": "title", "text": "柳市镇购买服务协议"}
        agreement_text.set_template(session, world.town_id, own.replace("柳市镇购买", "新"), "admin", utcnow())
    with db.uow(readonly=True) as session:
        agreement = session.get(Agreement, draft["agreement_id"])
        assert agreements.text_of(session, agreement).startswith("# 柳市镇购买服务协议")
        assert agreements.verify(agreement)["ok"]


@pytest.mark.parametrize("body, complaint", [
    ("甲方${purchaser} ${town_name}", "Unknown places: town_name"),
    ("甲方${purchaser} 乙方${contractor}", "must contain"),
    (agreement_text.DEFAULT_TEMPLATE + "\n收费 $5", r"A \$ sign"),
    ("x" * 20_001, "longer than"),
])
def test_a_bad_template_is_refused_and_nothing_is_stored(db, world, body, complaint):
    with pytest.raises(ValidationError, match=complaint):
        with db.uow() as session:
            agreement_text.set_template(session, world.town_id, body, "admin", utcnow())
    with db.uow(readonly=True) as session:
        assert session.query(AgreementTemplate).count() == 0
        assert agreement_text.template_for(session, world.town_id) == agreement_text.DEFAULT_TEMPLATE


def test_the_pdf_of_the_signed_agreement_carries_parties_amounts_signers_and_seal(db, queue, world):
    draft = signed(db, queue, world)
    with db.uow() as session:
        agreement = session.get(Agreement, draft["agreement_id"])
        document = agreement_pdf.document_of(session, agreement, utcnow())
        pdf, sha = document.pdf, document.sha256
    text = pdf_text(pdf)
    flat = re.sub(r"\s+", "", text)
    assert "柳市镇" in text and "阳光社工服务中心" in text and CREDIT_CODE in flat
    assert "76,000.00" in flat and "柒万陆仟元整" in flat
    assert "王建国" in text and "李晓红" in text  # the signers by display name, never a username
    assert draft["seal"] in flat
    with db.uow() as session:  # made once: the same file every time
        again = agreement_pdf.document_of(session, session.get(Agreement, draft["agreement_id"]), utcnow())
        assert again.sha256 == sha and session.query(AgreementDocument).count() == 1


def test_a_copy_is_checked_against_the_kept_pdf_and_the_seal(db, queue, world):
    draft = signed(db, queue, world)
    with db.uow() as session:
        pdf = agreement_pdf.document_of(session, session.get(Agreement, draft["agreement_id"]), utcnow()).pdf
    with db.uow(readonly=True) as session:
        verdict = agreement_pdf.check_file(session, pdf)
        assert (verdict.ok, verdict.kind, verdict.number) == (True, "pdf", draft["number"])
        assert verdict.sentence.startswith("VERIFIED")
        forged = agreement_pdf.check_file(session, pdf.replace(b"76,000.00", b"96,000.00") + b"\n")
        assert (forged.ok, forged.kind) == (False, "unknown")
        by_seal = agreement_pdf.check_hash(session, draft["seal"].upper())
        assert (by_seal.ok, by_seal.kind) == (True, "seal")
        with pytest.raises(ValidationError):
            agreement_pdf.check_hash(session, "not a hash")
    with db.uow() as session:  # the stored terms changed behind the seal's back
        agreement = session.get(Agreement, draft["agreement_id"])
        agreement.content = dict(agreement.content, amount_fen=9600000)
    with db.uow(readonly=True) as session:
        verdict = agreement_pdf.check_file(session, pdf)
        assert verdict.ok is False and verdict.sentence.startswith("NOT VERIFIED")


def test_no_pdf_before_both_sides_signed(db, queue, world):
    draft = drafted(db, queue, world)
    with pytest.raises(BusinessRuleError, match="both sides"):
        with db.uow() as session:
            agreement_pdf.document_of(session, session.get(Agreement, draft["agreement_id"]), utcnow())
    with db.uow(readonly=True) as session:
        assert session.query(AgreementDocument).count() == 0


def test_sanshe_agreements_verify_says_the_verdict_on_its_last_line(db, queue, world, tmp_path, monkeypatch):
    if db.backend != "sqlite":
        pytest.skip("the command reads the database of SANSHE_DATABASE_URL; one backend is enough")
    draft = signed(db, queue, world)
    monkeypatch.setenv("SANSHE_DATABASE_URL", db.url)
    from cli import main
    runner = CliRunner()
    made = runner.invoke(main, ["agreements", "pdf", draft["number"], "-o", str(tmp_path / "a.pdf")])
    assert made.exit_code == 0, made.output
    good = runner.invoke(main, ["agreements", "verify", str(tmp_path / "a.pdf")])
    assert good.exit_code == 0
    assert good.output.strip().splitlines()[-1] == f"VERIFIED: the sealed PDF of agreement {draft['number']}, " \
                                                   "signed by both sides"
    (tmp_path / "b.pdf").write_bytes((tmp_path / "a.pdf").read_bytes() + b"%")
    bad = runner.invoke(main, ["agreements", "verify", str(tmp_path / "b.pdf")])
    assert bad.exit_code == 1 and bad.output.strip().splitlines()[-1].startswith("NOT VERIFIED")
