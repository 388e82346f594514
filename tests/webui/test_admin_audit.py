"""The audit log reads as sentences, links the version's diff and the project, and filters."""
import re

from engine.core import migration_runs
from tests import diagram_edits as edits

from .conftest import start_project


def deploy_v2(admin):
    admin.get("/admin/definitions/1/edit")
    xml = edits.set_param(edits.original(), "tally_votes", "pass_ratio", "2/3")
    assert admin.post("/admin/definitions/1/edit", {"bpmn_xml": xml}, headers={"Accept": "application/json"}).json["ok"]


def test_the_log_says_in_words_who_deployed_and_moved_what_with_links(web, as_user):
    instance_id = start_project(web, title="审计中的项目")
    admin = as_user("admin")
    deploy_v2(admin)
    admin.get("/admin/migrate?target=2")
    admin.post("/admin/migrate", {"target": "2", "instance": str(instance_id)})
    migration_runs.run_pending(web.services.runtime, web.services.session_factory)  # the scheduler's part
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "部署了流程新版本" in page and "第 2 版" in page
    assert 'href="/admin/diff?old=1&amp;new=2"' in page and "与第 1 版相比改了什么" in page
    assert f"项目 #{instance_id}“审计中的项目”从第 1 版迁移到第 2 版" in page
    assert f'href="/instances/{instance_id}"' in page
    assert '"hash"' not in page and "{&#34;" not in page  # no raw JSON


def test_the_log_filters_by_action_person_date_and_object(web, as_user):
    admin = as_user("admin")
    deploy_v2(admin)
    rows = re.findall(r'<tr data-action="(\w+)"', admin.get("/admin/audit?action=deploy").get_data(as_text=True))
    assert rows and set(rows) == {"deploy"}
    assert re.findall(r'<tr data-action=', admin.get("/admin/audit?actor=nobody").get_data(as_text=True)) == []
    assert re.findall(r'<tr data-action=', admin.get("/admin/audit?until=2000-01-01").get_data(as_text=True)) == []
    found = admin.get("/admin/audit?text=seven_step_project v2").get_data(as_text=True)
    assert re.findall(r'data-target="([^"]+)"', found) == ["seven_step_project v2"]


def test_a_date_that_is_not_a_date_is_refused(web, as_user):
    response = as_user("admin").get("/admin/audit?since=yesterday")
    assert response.status_code == 422 and "2027-03-01" in response.get_data(as_text=True)


def test_a_trial_of_a_broken_diagram_shows_its_findings_and_runs_nothing(web, as_user):
    admin = as_user("admin")
    admin.get("/admin/definitions/1/edit")
    xml = edits.original().replace('id="vote_tally"', 'id="vote_count"')
    response = admin.post("/admin/definitions/1/trial", {"bpmn_xml": xml})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-element-id="tally_votes"' in page
    assert "vote_count" in page and "trial-report" not in page


def test_a_trial_decision_that_is_not_a_value_is_refused(web, as_user):
    admin = as_user("admin")
    admin.get("/admin/definitions/1/edit")
    response = admin.post("/admin/definitions/1/trial", {"bpmn_xml": edits.original(), "choice.ballot": "no quotes"})
    assert response.status_code == 422


def test_budgets_and_keys_are_named_in_words_not_by_their_keys(web, as_user):
    from engine.core.db import unit_of_work
    from engine.core.worker_credentials import create
    from engine.method.funds import set_budget

    with unit_of_work(web.services.session_factory) as session:
        set_budget(session, web.world.town.id, 2031, "500000", actor="admin", note="年初预算")
        create(session, "短信通知服务", ["notify"], ["notify"], "admin")
    page = re.sub(r"<[^>]+>", " ", as_user("admin").get("/admin/audit").get_data(as_text=True))  # the words read
    assert f"{web.world.town.name} 2031 年预算" in page and "新金额（元）" in page and "年初预算" in page
    assert "新建了外部程序密钥" in page and "外部程序“短信通知服务”" in page and "通知" in page
    assert "budget:" not in page and "worker_credential_create" not in page and "worker " not in page
