"""Documents in the browser, in Chinese: both sides sign with the whole agreement on the page,
the signed agreement prints on A4 without the site around it and downloads as a PDF.
Screenshots at 1366 px and 390 px; no page is wider than the window."""
import re

import pytest
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Organization, Task, User
from engine.method.driver import start_project
from engine.method.models import Agreement
from tests.drive import decide_purchase, drive_to, voted_choices, work

from .conftest import ARTIFACTS, sign_in

pytestmark = [pytest.mark.browser]
WIDTHS = {"wide": 1366, "phone": 390}


def no_wider_than_the_window(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def printed(page, shown, name):
    """Printed, the page shows ``shown`` without the site's bar or its print button (kept as a
    screenshot); the page stays in print media."""
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible() and not page.locator('[data-testid="print"]').is_visible()
    assert page.locator(shown).is_visible()
    page.screenshot(path=ARTIFACTS / f"documents_{name}_print.png", full_page=True)


def ready(live, instance_id, bpmn_id):
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        return session.scalar(select(Task.id).where(Task.instance_id == instance_id, Task.bpmn_id == bpmn_id,
                                                    Task.state == "ready"))


def test_both_sides_sign_with_the_agreement_in_view_and_it_prints_and_downloads(live, chromium):
    with unit_of_work(live.services.session_factory) as session:
        session.get(Organization, live.world.org.id).credit_code = "91350100M000100Y43"
        session.get(User, live.world.users.town.id).display_name = "王建国"
        session.get(User, live.world.users.org.id).display_name = "李晓红"
    instance_id = start_project(live.services, live.world, title="象东社区助老协议项目")
    task_id = drive_to(live.services, instance_id, "purchase_decision", voted_choices(80000))
    decide_purchase(live.services, live.world.users.town.id, task_id, purchase_amount=76000,
                    purchase_first_installment=22800, purchase_final_installment=53200)
    work(live.services)

    for username, bpmn_id, side in (("town", "sign_purchaser", "purchaser"), ("orgstaff", "sign_contractor", "contractor")):
        task_id = ready(live, instance_id, bpmn_id)
        assert task_id, bpmn_id
        for label, width in WIDTHS.items():
            page = sign_in(chromium, live.url, username, width)
            page.goto(f"{live.url}/tasks/{task_id}")
            agreement = page.locator('[data-testid="agreement-text"]')
            assert agreement.is_visible()
            text = agreement.inner_text()
            assert "甲方（购买方）：柳市镇" in text and "乐清社工服务中心" in text
            assert "人民币76,000.00元（大写：柒万陆仟元整）" in text and "争议解决" in text
            no_wider_than_the_window(page)
            page.screenshot(path=ARTIFACTS / f"documents_{bpmn_id}_{label}.png", full_page=True)
            if label == "wide":
                page.emulate_media(media="print")  # printed: the agreement and the form, no menu, no diagram
                assert not page.locator(".topbar").is_visible() and agreement.is_visible()
                assert not page.locator(".diagram").first.is_visible()
                page.screenshot(path=ARTIFACTS / f"documents_{bpmn_id}_print.png", full_page=True)
                page.emulate_media(media="screen")
                signer = page
            else:
                page.context.close()
        page = signer
        page.click('[data-testid="claim"]')
        page.fill(f'[name="{side}_signatory"]', "签约人")
        page.fill(f'[name="{side}_sign_date"]', "2026-05-08")
        page.set_checked(f'[name="{side}_agrees"]', True)
        page.click('[data-testid="complete"]')
        page.wait_for_url(re.compile(r".*/inbox.*"))
        page.context.close()
        work(live.services)

    with unit_of_work(live.services.session_factory, readonly=True) as session:
        agreement = session.scalar(select(Agreement).where(Agreement.instance_id == instance_id))
        agreement_id, seal, status = agreement.id, agreement.seal, agreement.status
    assert status == "signed"
    for label, width in WIDTHS.items():
        page = sign_in(chromium, live.url, "town", width, accept_downloads=True)
        page.goto(f"{live.url}/instances/{instance_id}")
        page.click('[data-testid="agreement-link"]')
        page.wait_for_url(re.compile(rf".*/agreements/{agreement_id}$"))
        body = page.locator('[data-testid="agreement-text"]').inner_text()
        assert "王建国" in body and "李晓红" in body and seal in body
        no_wider_than_the_window(page)
        page.screenshot(path=ARTIFACTS / f"documents_agreement_{label}.png", full_page=True)
        if label == "wide":
            printed(page, '[data-testid="agreement-text"]', "agreement")
            page.emulate_media(media="screen")
            with page.expect_download() as download:
                page.click('[data-testid="agreement-pdf"]')
            assert download.value.suggested_filename.endswith(".pdf")
            pdf_path = ARTIFACTS / "documents_agreement.pdf"
            download.value.save_as(pdf_path)
            page.goto(f"{live.url}/agreements/verify")
            page.set_input_files('input[name="file"]', str(pdf_path))
            page.click('[data-testid="verify"]')
            assert "核验通过" in page.locator('[data-testid="verdict"]').inner_text()
            page.screenshot(path=ARTIFACTS / "documents_verify.png", full_page=True)
        page.context.close()


def test_residents_read_the_notice_board_signed_out_and_the_committee_prints_the_announcement(live, chromium):
    instance_id = start_project(live.services, live.world, title="象东社区公示测试项目")
    drive_to(live.services, instance_id, "approve_application", voted_choices(50000))

    for label, width in WIDTHS.items():
        context = chromium.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(f"{live.url}/login")
        page.click('[data-testid="notice-boards"]')
        page.click("text=象东社区")
        page.wait_for_url(re.compile(r".*/notices/xiangdong$"))
        board = page.locator('[data-testid="current-notices"]').inner_text()
        assert "象东社区公示测试项目" in board and "乐清社工服务中心" in board and "表决通过" in board
        assert "公示期" in board and "¥50,000.00" in board
        assert "rep0" not in page.content() and page.locator('[data-testid="logout"]').count() == 0
        no_wider_than_the_window(page)
        page.screenshot(path=ARTIFACTS / f"documents_notice_board_{label}.png", full_page=True)
        context.close()

    page = sign_in(chromium, live.url, "committee")
    page.goto(f"{live.url}/instances/{instance_id}")
    page.click('[data-testid="announcement-link"]')
    text = page.locator('[data-testid="announcement"]').inner_text()
    assert "表决结果公告" in text and "适用规则" in text and "表决通过" in text
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible() and page.locator('[data-testid="announcement"]').is_visible()
    page.screenshot(path=ARTIFACTS / "documents_announcement_print.png", full_page=True)
    page.context.close()


def test_the_committee_prints_a_project_record(live, chromium):
    instance_id = start_project(live.services, live.world, title="象东社区档案测试项目")
    task_id = drive_to(live.services, instance_id, "purchase_decision", voted_choices(60000))
    decide_purchase(live.services, live.world.users.town.id, task_id, purchase_amount=60000,
                    purchase_first_installment=18000, purchase_final_installment=42000)
    drive_to(live.services, instance_id, "report_progress", voted_choices(60000))

    for label, width in WIDTHS.items():
        page = sign_in(chromium, live.url, "committee", width)
        page.goto(f"{live.url}/instances/{instance_id}")
        page.click('[data-testid="record-link"]')
        page.wait_for_url(re.compile(rf".*/instances/{instance_id}/record$"))
        money = page.locator('[data-testid="record-money"]').inner_text()
        assert "¥60,000.00" in money and "¥18,000.00" in money and "尚未拨付" in money
        assert "购买决定" in page.locator('[data-testid="record-forms"]').inner_text()
        no_wider_than_the_window(page)
        page.screenshot(path=ARTIFACTS / f"documents_record_{label}.png", full_page=True)
        if label == "wide":
            printed(page, '[data-testid="record-timeline"]', "record")
            pdf = page.pdf(format="A4")  # what the browser's print dialog would put on paper
            assert pdf.startswith(b"%PDF")
        page.context.close()


def test_the_administrator_edits_a_towns_agreement_text(live, chromium):
    for label, width in WIDTHS.items():
        page = sign_in(chromium, live.url, "admin", width)
        page.goto(f"{live.url}/admin/agreement-texts")
        page.click(f'[data-testid="edit-{live.world.town.code}"]')
        body = page.locator('[data-testid="template-body"]')
        assert "第九条　争议解决" in body.input_value()
        no_wider_than_the_window(page)
        page.screenshot(path=ARTIFACTS / f"documents_agreement_text_{label}.png", full_page=True)
        if label == "wide":
            body.fill(body.input_value().replace("${amount_capital}", "${amount_in_words}"))
            page.click('[data-testid="save-template"]')
            assert "未知的占位符：amount_in_words" in page.locator(".flash.error").inner_text()
            body = page.locator('[data-testid="template-body"]')
            body.fill(body.input_value().replace("${amount_in_words}", "${amount_capital}").replace(
                "# 购买服务协议", "# 柳市镇政府购买服务协议"))
            page.click('[data-testid="save-template"]')
            page.wait_for_url(re.compile(r".*/admin/agreement-texts$"))
            assert "本镇文本" in page.content()
            page.goto(f"{live.url}/admin/agreement-texts/{live.world.town.id}")  # back to the default
            page.locator('[data-testid="template-body"]').fill("")
            page.click('[data-testid="save-template"]')
            page.wait_for_url(re.compile(r".*/admin/agreement-texts$"))
            assert "默认文本" in page.content()
        page.context.close()
