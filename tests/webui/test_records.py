"""The project record (项目档案): outcome, money, documents, forms, attachments and timeline on
one page by display name; as one PDF and as a zip for the archive."""
import io
import re
import zipfile

from pypdf import PdfReader

from tests.drive import drive_to, voted_choices, work

from .conftest import Client, ready_task
from .test_agreements import at_signing


def login(web, username):
    client = Client(web.app)
    assert client.login(username).status_code == 302
    return client


def delivering(web):
    """A project signed (the town with a scanned copy), its first installment paid."""
    instance_id = at_signing(web)
    town = login(web, "town")
    task = ready_task(web, instance_id, "sign_purchaser")
    town.get(f"/tasks/{task.id}")
    town.post(f"/tasks/{task.id}/claim")
    done = town.post(f"/tasks/{task.id}/complete", {
        "purchaser_signatory": "王建国", "purchaser_sign_date": "2026-05-08", "purchaser_agrees": "1",
        "purchaser_signed_copy": (io.BytesIO(b"%PDF-1.4 signed copy"), "签字盖章件.pdf")},
        content_type="multipart/form-data")
    assert done.status_code == 302
    work(web.services)
    drive_to(web.services, instance_id, "report_progress", voted_choices(80000))
    return instance_id


def test_the_record_shows_outcome_money_documents_forms_attachments_and_timeline(web):
    instance_id = delivering(web)
    committee = login(web, "committee")
    assert "项目档案" in committee.get(f"/instances/{instance_id}").get_data(as_text=True)
    page = committee.get(f"/instances/{instance_id}/record").get_data(as_text=True)
    assert "项目档案：象东社区银龄互助项目" in page and "乐清社工服务中心" in page and "91350100M000100Y43" in page
    assert "表决通过" in page and "5 票赞成" in page
    money = page[page.index('data-testid="record-money"'):page.index('data-testid="record-documents"')]
    assert "¥76,000.00" in money and "¥22,800.00" in money and "¥53,200.00" in money
    assert "尚未拨付" in money and re.search(r"\d{4}年\d{1,2}月\d{1,2}日", money)  # the first one paid, with its date
    assert "购买服务协议 SS-" in page and "双方已签署" in page and "表决结果公告" in page
    assert "签字盖章件.pdf" in page and "/attachments/" in page
    assert "购买决定" in page and "福彩公益金" in page  # forms read-only
    assert "个人投票与评分保密" in page  # others' ballots stay confidential
    assert "王建国" in page and "李晓红" in page
    timeline = page[page.index('data-testid="record-timeline"'):]
    assert ">town<" not in timeline and ">orgstaff<" not in timeline  # display names, never usernames
    assert 'name="purchaser_signatory"' not in page  # nothing to edit
    assert login(web, "committee_b").get(f"/instances/{instance_id}/record").status_code in (403, 404)


def test_the_record_downloads_as_one_pdf_and_as_a_zip_for_the_archive(web):
    instance_id = delivering(web)
    town = login(web, "town")
    response = town.http.get(f"/instances/{instance_id}/record.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    flat = re.sub(r"\s+", "", text)
    assert "项目档案" in flat and "象东社区银龄互助项目" in flat and "76,000.00" in flat
    assert "签字盖章件.pdf" in flat and "王建国" in flat

    response = town.http.get(f"/instances/{instance_id}/record.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
        assert "项目档案.pdf" in names
        agreement = [n for n in names if n.startswith("购买服务协议-SS-")]
        assert len(agreement) == 1 and archive.read(agreement[0]).startswith(b"%PDF")
        copies = [n for n in names if n.startswith("附件/") and n.endswith("签字盖章件.pdf")]
        assert copies and archive.read(copies[0]) == b"%PDF-1.4 signed copy"
        written = [n for n in names if n.startswith("文书/")]
        assert any("恳谈会纪要（第 1 轮）" in n for n in written) and any("拨付通知" in n for n in written)
        assert "文书/表决结果公告（第 1 轮）.pdf" in written
        assert all(archive.read(n).startswith(b"%PDF") for n in written)
    assert login(web, "committee_b").http.get(f"/instances/{instance_id}/record.zip").status_code in (403, 404)


def test_the_project_list_downloads_as_a_workbook_with_chinese_headers(web):
    from openpyxl import load_workbook

    instance_id = delivering(web)
    town = login(web, "town")
    assert 'data-testid="projects-xlsx"' in town.get("/instances").get_data(as_text=True)
    response = town.http.get("/instances.xlsx?status=running")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    assert sheet.title == "项目"
    assert [c.value for c in sheet[1]] == ["项目", "社区", "社会组织", "当前步骤", "状态", "发起时间", "结束时间",
                                           "决定金额（元）", "已支付（元）", "未支付（元）"]
    row = [c.value for c in sheet[2]]
    assert row[:3] == ["象东社区银龄互助项目", "象东社区", "乐清社工服务中心"] and row[4] == "进行中"
    assert row[7:] == [76000, 22800, 53200] and row[3] == "项目实施"
    assert sheet.max_row == 2
    assert town.http.get("/instances.xlsx?status=nonsense").status_code == 422
    empty = load_workbook(io.BytesIO(login(web, "committee_b").http.get("/instances.xlsx").data)).worksheets[0]
    assert empty.max_row == 1  # another town's projects are not in its list
    assert instance_id
