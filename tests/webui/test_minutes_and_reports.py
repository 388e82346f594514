"""Minutes, records and reports from the task data and the payment notices: printable pages
and PDFs, reached from the project record."""
import io
import re

from pypdf import PdfReader
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Instance, Task
from tests.drive import drive_to, voted_choices

from .test_records import delivering, login


def pdf_text(data: bytes) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


def test_minutes_and_payment_notices_from_the_task_data(web):
    instance_id = delivering(web)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        meeting = session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                    Task.bpmn_id == "consultation_meeting"))
        suggestions = meeting.data["consultation_suggestions"]
    committee = login(web, "committee")
    record = committee.get(f"/instances/{instance_id}/record").get_data(as_text=True)
    assert "恳谈会纪要（第 1 轮）" in record and "拨付通知：首期（签约后）" in record
    page = committee.get(f"/instances/{instance_id}/documents/{meeting.id}").get_data(as_text=True)
    assert "恳谈会纪要（第 1 轮）" in page and suggestions in page and "打印" in page and "下载 PDF" in page
    pdf = committee.http.get(f"/instances/{instance_id}/documents/{meeting.id}.pdf")
    assert pdf.status_code == 200 and "恳谈会纪要" in pdf_text(pdf.data)

    notice = committee.get(f"/instances/{instance_id}/payments/1").get_data(as_text=True)
    assert "拨付通知：首期（签约后）" in notice and "¥22,800.00" in notice and "贰万贰仟捌佰元整" in notice
    assert "乐清社工服务中心" in notice and "SS-" in notice
    text = pdf_text(committee.http.get(f"/instances/{instance_id}/payments/1.pdf").data)
    assert "22,800.00" in text and "贰万贰仟捌佰元整" in text

    assert committee.get(f"/instances/{instance_id}/payments/2").status_code == 404  # not paid yet
    assert committee.get(f"/instances/{instance_id}/evaluation-report").status_code == 404  # not evaluated yet
    assert committee.get(f"/instances/{instance_id}/documents/not-a-task").status_code == 404
    assert login(web, "committee_b").get(f"/instances/{instance_id}/payments/1").status_code in (403, 404)


def test_the_panels_written_report_carries_the_scores_without_names_and_the_decision(web):
    instance_id = delivering(web)
    drive_to(web.services, instance_id, None, voted_choices(80000))
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Instance, instance_id).status == "completed"
        scores = session.scalars(select(Task).where(Task.instance_id == instance_id,
                                                    Task.bpmn_id == "score_project")).all()
    committee = login(web, "committee")
    page = committee.get(f"/instances/{instance_id}/evaluation-report").get_data(as_text=True)
    assert "评议报告" in page and "验收决定" in page and "验收通过" in page and "成员 1" in page
    table = page[page.index("<h4>评分</h4>"):page.index("<h4>验收决定</h4>")]
    for task in scores:
        assert str(task.data["panel_score"]) in table
        assert task.assignee not in table  # the panel is named above; no score is tied to a name
    text = pdf_text(committee.http.get(f"/instances/{instance_id}/evaluation-report.pdf").data)
    assert "评议报告" in text and "验收通过" in text
    assert "评议报告" in committee.get(f"/instances/{instance_id}/record").get_data(as_text=True)
