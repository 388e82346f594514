"""The vote announcement (表决结果公告) and the community's public notice board (公示栏):
announced when the tally is done, printable, posted for residents without signing in,
public facts only."""
import io
import re
from datetime import timedelta

from pypdf import PdfReader

from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import User
from engine.method.models import Decision
from engine.queries import notices
from tests.drive import drive_to, voted_choices

from .conftest import Client, start_project


def login(web, username):
    client = Client(web.app)
    assert client.login(username).status_code == 302
    return client


def voted(web):
    with unit_of_work(web.services.session_factory) as session:
        for index, user in enumerate(web.world.users.reps):
            session.get(User, user.id).display_name = f"代表{'甲乙丙丁戊'[index]}"
    instance_id = start_project(web, "象东社区银龄互助项目")
    drive_to(web.services, instance_id, "approve_application", voted_choices(80000))
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        decision = session.scalar(select(Decision).where(Decision.instance_id == instance_id, Decision.kind == "vote"))
        return instance_id, decision.id, decision.created_at


def test_the_announcement_is_a_chinese_document_with_the_figures_and_the_rule(web):
    instance_id, decision_id, when = voted(web)
    committee = login(web, "committee")
    project = committee.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert f"/instances/{instance_id}/votes/{decision_id}" in project and "表决结果公告" in project
    page = committee.get(f"/instances/{instance_id}/votes/{decision_id}").get_data(as_text=True)
    assert "表决结果公告" in page and "象东社区居民代表会议" in page and "“象东社区银龄互助项目”" in page
    assert "乐清社工服务中心" in page and "第 1 轮" in page
    assert "<td>5</td><td>5</td><td>0</td><td>5</td><td>0</td><td>0</td>" in page.replace("\n", "").replace(" ", "")
    assert "会议须有不少于三分之二的组成人员到会方为有效" in page and "表决通过" in page
    assert "公示期" in page and "打印" in page and "¥80,000.00" in page
    assert "rep0" not in page and "代表甲" not in page  # no voter is named
    pdf = committee.http.get(f"/instances/{instance_id}/votes/{decision_id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages))
    assert "表决结果公告" in text and "表决通过" in text and "80,000.00" in text
    assert committee.get(f"/instances/{instance_id}/votes/999999").status_code == 404
    assert login(web, "committee_b").get(f"/instances/{instance_id}/votes/{decision_id}").status_code in (403, 404)


def test_the_notice_board_is_public_and_shows_public_facts_only(web):
    instance_id, decision_id, when = voted(web)
    resident = Client(web.app)  # not signed in
    listing = resident.get("/notices")
    assert listing.status_code == 200 and "象东社区" in listing.get_data(as_text=True)
    response = resident.get("/notices/xiangdong")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "象东社区公示栏" in page and "象东社区银龄互助项目" in page and "乐清社工服务中心" in page
    assert "表决通过" in page and "¥80,000.00" in page and "公示期" in page
    for private in ("rep0", "代表甲", "committee", "orgstaff", "回避", "ballot"):
        assert private not in page, private
    assert "退出登录" not in page  # nobody is signed in
    other = resident.get("/notices/yancheng").get_data(as_text=True)
    assert "象东社区银龄互助项目" not in other and "目前没有公示内容" in other
    assert resident.get("/notices/nowhere").status_code == 404


def test_the_publicity_period_ends_and_the_result_moves_to_the_archive(web):
    instance_id, decision_id, when = voted(web)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        during = notices.notice_board(session, "xiangdong", when + timedelta(days=notices.PUBLICITY_DAYS))
        after = notices.notice_board(session, "xiangdong", when + timedelta(days=notices.PUBLICITY_DAYS, seconds=1))
    assert [a.decision_id for a in during.current] == [decision_id] and during.archive == []
    assert after.current == [] and [a.decision_id for a in after.archive] == [decision_id]
    assert after.archive[0].result == "passed" and after.archive[0].amount_fen == 8_000_000
