"""The purchase agreement in the web interface: read in full where it is signed, downloaded
as PDF once both sides signed, checked against its seal; each town's text kept by the
administrator."""
import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Organization, User
from engine.method.models import Agreement, AgreementTemplate
from tests.drive import decide_purchase, drive_to, voted_choices, work

from .conftest import Client, ready_task, start_project

CREDIT_CODE = "91350100M000100Y43"


def login(web, username):
    client = Client(web.app)
    assert client.login(username).status_code == 302
    return client


def at_signing(web):
    """A project whose agreement of 76,000 yuan waits for the town's signature."""
    with unit_of_work(web.services.session_factory) as session:
        session.get(Organization, web.world.org.id).credit_code = CREDIT_CODE
        session.get(User, web.world.users.town.id).display_name = "王建国"
        session.get(User, web.world.users.org.id).display_name = "李晓红"
        from engine.method import funds
        funds.set_budget(session, web.world.town.id, web.services.runtime.clock().year, 200_000)
    instance_id = start_project(web, "象东社区银龄互助项目")
    task_id = drive_to(web.services, instance_id, "purchase_decision", voted_choices(80000))
    decide_purchase(web.services, web.world.users.town.id, task_id, purchase_amount=76000,
                    purchase_first_installment=22800, purchase_final_installment=53200)
    work(web.services)
    return instance_id


def sign(client, task_id, side):
    client.get(f"/tasks/{task_id}")
    client.post(f"/tasks/{task_id}/claim")
    return client.post(f"/tasks/{task_id}/complete", {f"{side}_signatory": "签约人", f"{side}_sign_date": "2026-05-08",
                                                      f"{side}_agrees": "1"})


def test_both_sides_read_the_whole_agreement_where_they_sign_and_get_the_sealed_pdf(web):
    instance_id = at_signing(web)
    town = login(web, "town")
    task = ready_task(web, instance_id, "sign_purchaser")
    page = town.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "购买服务协议" in page and "（全文）" in page
    assert "甲方（购买方）：柳市镇" in page and "乙方（承接方）：乐清社工服务中心" in page
    assert f"统一社会信用代码：{CREDIT_CODE}" in page
    assert "人民币76,000.00元（大写：柒万陆仟元整）" in page
    assert "第一期：协议签订后支付人民币22,800.00元（大写：贰万贰仟捌佰元整）" in page
    assert "争议解决" in page and "验收标准" in page and "尚未签署" in page
    assert sign(town, task.id, "purchaser").status_code == 302
    work(web.services)

    org = login(web, "orgstaff")
    task = ready_task(web, instance_id, "sign_contractor")
    page = org.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "柒万陆仟元整" in page and "乐清社工服务中心" in page
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        agreement = session.scalar(select(Agreement).where(Agreement.instance_id == instance_id))
        agreement_id, seal, number = agreement.id, agreement.seal, agreement.number
    assert seal in page
    assert org.http.get(f"/agreements/{agreement_id}.pdf").status_code == 422  # not before both signed
    assert sign(org, task.id, "contractor").status_code == 302
    work(web.services)

    project = town.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert f"/agreements/{agreement_id}" in project and "双方已签署" in project
    shown = town.get(f"/agreements/{agreement_id}").get_data(as_text=True)
    assert "王建国" in shown and "李晓红" in shown and "下载 PDF" in shown
    response = org.http.get(f"/agreements/{agreement_id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.data
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s+", "", text)
    assert "柳市镇" in text and "乐清社工服务中心" in text and "76,000.00" in flat and "柒万陆仟元整" in flat
    assert "王建国" in text and "李晓红" in text and seal in flat
    assert town.http.get(f"/agreements/{agreement_id}.pdf").data == pdf  # made once, the same file for everyone

    checked = town.post("/agreements/verify", {"file": (io.BytesIO(pdf), "协议.pdf")},
                        content_type="multipart/form-data").get_data(as_text=True)
    assert f"核验通过：这是协议 {number} 的封存 PDF" in checked and "柒万陆仟元整" in checked
    forged = town.post("/agreements/verify", {"file": (io.BytesIO(pdf + b"%"), "协议.pdf")},
                       content_type="multipart/form-data")
    assert forged.status_code == 200 and "不是封存的协议" in forged.get_data(as_text=True)
    by_seal = town.post("/agreements/verify", {"hash": seal}).get_data(as_text=True)
    assert f"核验通过：这是协议 {number} 的封存值" in by_seal
    bad = town.post("/agreements/verify", {"hash": "12345"})
    assert bad.status_code == 422 and "64 位十六进制" in bad.get_data(as_text=True)
    assert town.post("/agreements/verify", {}).status_code == 422

    stranger = login(web, "committee_b")  # another town's community: not its project
    assert stranger.get(f"/agreements/{agreement_id}").status_code in (403, 404)
    assert stranger.http.get(f"/agreements/{agreement_id}.pdf").status_code in (403, 404)


def test_the_administrator_keeps_each_towns_text_and_bad_text_changes_nothing(web):
    town_id = web.world.town.id
    assert login(web, "town").get(f"/admin/agreement-texts/{town_id}").status_code == 403
    admin = login(web, "admin")
    listing = admin.get("/admin/agreement-texts").get_data(as_text=True)
    assert "柳市镇" in listing and "默认文本" in listing
    form = admin.get(f"/admin/agreement-texts/{town_id}").get_data(as_text=True)
    assert "第九条　争议解决" in form and "${amount_capital}" in form
    refused = admin.post(f"/admin/agreement-texts/{town_id}", {"body": "甲方${purchaser}，${town_name}"})
    assert refused.status_code == 422 and "未知的占位符：town_name" in refused.get_data(as_text=True)
    missing = admin.post(f"/admin/agreement-texts/{town_id}", {"body": "甲方${purchaser}"})
    assert missing.status_code == 422 and "协议文本必须包含" in missing.get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.scalars(select(AgreementTemplate)).all() == []
    own = ("# 柳市镇政府购买服务协议\n甲方${purchaser}，乙方${contractor}（${credit_code}）\n"
           "金额${amount}元（${amount_capital}）\n${installments}\n${acceptance_criteria}\n")
    assert admin.post(f"/admin/agreement-texts/{town_id}", {"body": own}).status_code == 302
    assert "本镇文本" in admin.get("/admin/agreement-texts").get_data(as_text=True)
    assert admin.get("/admin/agreement-texts/99999").status_code == 404

    instance_id = at_signing(web)
    task = ready_task(web, instance_id, "sign_purchaser")
    page = login(web, "town").get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "柳市镇政府购买服务协议" in page and "金额76,000.00元（柒万陆仟元整）" in page


@pytest.mark.parametrize("path", ["/agreements/1", "/agreements/1.pdf", "/agreements/verify"])
def test_signed_out_people_are_sent_to_sign_in(web, path):
    response = Client(web.app).get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
