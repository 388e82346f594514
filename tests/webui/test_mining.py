"""The mining dashboard and log downloads, each person in their scope."""
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


def test_durations_read_at_their_scale():
    from webui.mining import seconds

    assert [seconds(v) for v in (None, 40, 720, 5400, 90061)] == ["—", "40s", "12min", "1.5h", "1d 1h"]
