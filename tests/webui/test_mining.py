"""The mining dashboard and log downloads, each person in their scope."""
import io
import re

from openpyxl import load_workbook

from engine.method.driver import default_choices
from tests.drive import drive_to

from .conftest import start_project


def test_dashboard_and_downloads_for_the_town(web, as_user):
    start_project(web, title="项目戊")
    town = as_user("town")
    page = town.get("/mining/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-heat" in html and "/mining/export.xes" in html
    xes = town.get("/mining/export.xes")
    assert xes.status_code == 200 and "<log" in xes.get_data(as_text=True)
    assert "attachment" in xes.headers["Content-Disposition"]
    assert town.get("/mining/export.parquet").status_code == 422
    assert town.get("/mining/diagram.bpmn").status_code == 200


def test_mining_is_refused_outside_the_roles(web, as_user):
    for username in ("orgstaff", "rep0", "panel0"):
        assert as_user(username).get("/mining/").status_code == 403
        assert as_user(username).get("/mining/export.csv").status_code == 403


def test_another_community_downloads_none_of_this_log(web, as_user):
    instance_id = start_project(web, title="项目己")
    own = as_user("committee").get("/mining/export.csv").get_data(as_text=True)
    other = as_user("committee_b").get("/mining/export.csv").get_data(as_text=True)
    assert f"\n{instance_id}," in own or f",{instance_id}," in own
    assert len(other.strip().splitlines()) <= 1


def test_dashboard_in_chinese_and_linked_for_its_roles(web, as_user):
    town = as_user("town")
    page = town.get("/mining/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "流程挖掘" in page and "各步骤用时" in page
    assert "/mining/" in town.get("/inbox").get_data(as_text=True)
    assert "/mining/" not in as_user("orgstaff").get("/inbox").get_data(as_text=True)


def test_durations_read_at_their_scale_in_chinese_units(web):
    from webui.mining import seconds

    values = (None, 40, 720, 5400, 90061, 13330800)
    with web.app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert [seconds(v) for v in values] == ["—", "40秒", "12分钟", "1.5小时", "1天1小时", "154天7小时"]
    with web.app.test_request_context(headers={"Accept-Language": "en"}):
        assert [seconds(v) for v in values] == ["—", "40 s", "12 min", "1.5 h", "1 d 1 h", "154 d 7 h"]


def _moved_on(web, title):
    instance_id = start_project(web, title=title)
    drive_to(web.services, instance_id, "write_application", default_choices())
    return instance_id


def test_every_table_has_headings_and_chinese_units(web, as_user):
    _moved_on(web, "项目庚")
    html = as_user("town").get("/mining/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    tables = html.count('<table class="data">')
    assert tables >= 6 and html.count("<thead>") == tables
    assert "按时完成率" in html and "进行中项目的预计完成时间" in html and "按社区比较" in html
    assert "小时" in html or "分钟" in html or "秒" in html
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells and not [c for c in cells if re.fullmatch(r"[\d.]+ ?(d|h|min|s)( [\d.]+ ?h)?", c)]


def test_excel_and_csv_downloads_in_chinese(web, as_user):
    _moved_on(web, "项目辛")
    town = as_user("town")
    book = town.http.get("/mining/report.xlsx", headers={"Accept-Language": "zh-CN"})
    assert book.status_code == 200 and book.mimetype.endswith("spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(book.data))
    assert "各步骤用时" in workbook.sheetnames and "各流程版本的合规情况" in workbook.sheetnames
    compare = workbook["按社区比较"]
    assert [c.value for c in compare[1]][:3] == ["社区", "项目数", "已完成"]
    assert compare["A2"].value == web.world.community.name  # names, not ids
    csv_file = town.get("/mining/tables/steps.csv", headers={"Accept-Language": "zh-CN"})
    assert csv_file.data.startswith("\ufeff".encode("utf-8"))  # Excel reads it as UTF-8
    header = csv_file.data.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("步骤,任务数,按时完成率")
    assert town.get("/mining/tables/nothing.csv").status_code == 404
    assert town.get("/mining/?by=colour").status_code == 404


def test_clicking_an_arrow_lists_its_projects_in_scope(web, as_user):
    instance_id = _moved_on(web, "项目壬")
    page = as_user("town").get("/mining/").get_data(as_text=True)
    assert "data-map" in page and "processmap.js" in page
    found = as_user("town").get("/mining/edge?source=confirm_catalog_item&target=check_eligibility").get_json()
    assert [c["title"] for c in found["cases"]] == ["项目壬"]
    assert found["cases"][0]["url"].endswith(f"/instances/{instance_id}")
    other = as_user("committee_b").get("/mining/edge?source=confirm_catalog_item&target=check_eligibility")
    assert other.get_json()["cases"] == []
    assert as_user("town").get("/mining/edge?source=confirm_catalog_item").status_code == 422
