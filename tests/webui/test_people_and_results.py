"""People by their names, affiliations that decide recusal, the panel picked from a list, and
rule results in words - through the pages, on SQLite and PostgreSQL."""
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from engine.method.driver import People, drive
from engine.core import affiliations
from engine.core.db import unit_of_work
from engine.core.models import Affiliation, Task, User
from tests.drive import real_workers

from .conftest import build_web, start_project

REAL_WORKERS = ("eligibility_check", "vote_roster", "vote_tally", "panel_check")
NAMES = {"committee": "王丽华", "orgstaff": "吴晓东", "town": "周建国", "rep0": "陈美华", "rep3": "刘桂芳",
         "panel0": "邱红梅", "panel1": "戴国平", "panel2": "傅晓琳"}


@pytest.fixture
def web(services):  # this module runs on both databases
    """The app on either database, people with Chinese names, rep3 a volunteer of the applicant."""
    web = build_web(services)
    with unit_of_work(services.session_factory) as session:
        for username, name in NAMES.items():
            session.scalar(select(User).where(User.username == username)).display_name = name
        rep3 = session.scalar(select(User).where(User.username == "rep3"))
        affiliations.add(session, rep3, web.world.org.id, "membership", date(2020, 1, 1), title="志愿者")
    return web


def advance(web, instance_id, until):
    """Work the instance until the task ``until`` waits: people through the runtime, the rule
    topics through the real workers, other jobs answered as a worker would."""
    task = drive(web.services, instance_id, People(), stop_before={until}, max_steps=300,
                 work=real_workers(web.services, REAL_WORKERS, ("completed", "bpmn_error")))
    assert task is not None and task.bpmn_id == until, f"{until} never came"
    return task


def test_the_new_account_form_records_an_affiliation_and_refuses_a_bad_one(web, as_user):
    admin = as_user("admin")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "所属社会组织（可选）" in page and "乐清社工服务中心" in page
    org_id = str(web.world.org.id)
    created = admin.post("/admin/users", {"username": "zhang", "display_name": "张晓红", "password": "long-enough-1",
                                          "organization_id": org_id, "kind": "employment", "title": "社工",
                                          "starts_on": "2023-04-01"})
    assert created.status_code == 303
    refused = admin.post("/admin/users", {"username": "li", "display_name": "李明", "password": "long-enough-1",
                                          "organization_id": org_id, "kind": "employment",
                                          "starts_on": "2023-04-01", "ends_on": "2022-01-01"})
    assert refused.status_code == 422 and "结束日期早于起始日期" in refused.get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        zhang = session.scalar(select(User).where(User.username == "zhang"))
        [tie] = zhang.affiliations
        assert (tie.organization_id, tie.kind, tie.title, tie.starts_on) == (web.world.org.id, "employment",
                                                                           "社工", date(2023, 4, 1))
        assert session.scalar(select(User).where(User.username == "li")) is None  # nothing was created
    page = admin.get(f"/admin/users/{zhang.id}").get_data(as_text=True)
    assert "张晓红" in page and "任职" in page and "2023-04-01" in page
    ended = admin.post(f"/admin/users/{zhang.id}/affiliations/{tie.id}/end", {"ends_on": "2024-06-30"})
    assert ended.status_code == 303
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Affiliation, tie.id).ends_on == date(2024, 6, 30)


def test_the_panel_is_picked_from_people_with_recusal_reasons_and_a_stranger_is_refused(web, as_user):
    instance_id = start_project(web)
    task = advance(web, instance_id, "form_panel")
    committee = as_user("committee")
    page = committee.get(f"/tasks/{task.id}").get_data(as_text=True)
    # Offered by name, with their role; rep3 volunteers for the applicant: shown with why, not offered.
    assert 'value="panel0"' in page and "邱红梅" in page and "陈美华" in page
    assert 'value="rep3"' not in page
    assert "刘桂芳" in page and "须回避" in page and "为乐清社工服务中心会员（志愿者）" in page
    form = {"panel_members": ["panel0", "panel1", "no_such_person"], "panel_method": "听取汇报、实地查看"}
    refused = committee.post(f"/tasks/{task.id}/complete", form)
    assert refused.status_code == 422
    assert "“no_such_person”不在可选人员之列" in refused.get_data(as_text=True)
    refused = committee.post(f"/tasks/{task.id}/complete", {**form, "panel_members": ["panel0", "panel1", "rep3"]})
    assert refused.status_code == 422 and "“rep3”不在可选人员之列" in refused.get_data(as_text=True)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Task, task.id).state == "ready"
        assert session.scalar(select(func.count()).select_from(Task).where(Task.bpmn_id == "score_project")) == 0
    # The members' categories are picked from the same people, by name; a typed name is refused.
    picker = re.search(r'<select[^>]*name="panel_member_categories\.__i__\.username".*?</select>', page, re.S)
    assert picker and "邱红梅" in picker.group(0) and 'value="rep3"' not in picker.group(0)
    categories = {"panel_member_categories.0.username": "panel0", "panel_member_categories.0.category": "expert"}
    typed = committee.post(f"/tasks/{task.id}/complete", {**form, "panel_members": ["panel0", "panel1", "panel2"],
                                                          **categories,
                                                          "panel_member_categories.0.username": "no_such_person"})
    assert typed.status_code == 422
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.get(Task, task.id).state == "ready"
    done = committee.post(f"/tasks/{task.id}/complete", {**form, "panel_members": ["panel0", "panel1", "panel2"],
                                                         **categories})
    assert done.status_code == 302
    advance(web, instance_id, "score_project")
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        scorers = session.scalars(select(Task.assignee).where(Task.bpmn_id == "score_project")).all()
    assert sorted(scorers) == ["panel0", "panel1", "panel2"]
    project = committee.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "评议小组3人符合规定：邱红梅、戴国平、傅晓琳" in project


def test_pages_name_people_and_say_the_rules_results_in_words(web, as_user):
    instance_id = start_project(web)
    task = advance(web, instance_id, "approve_application")
    committee = as_user("committee")
    project = committee.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "王丽华" in project and "吴晓东" in project  # who did what, by name
    assert "系统自动审查" in project and "worker-1" not in project
    assert "自动审查结果" not in project and "\\u" not in project
    # The vote: rep3 stands aside (a volunteer of the applicant), the rule applied is stated.
    assert "参加表决的居民代表4人，回避1人" in project and "刘桂芳" in project
    assert "应到4人，实到4人，到会人数不少于三分之二，会议有效" in project
    assert "会议须有不少于三分之二的组成人员到会方为有效" in project
    # The committee reads the whole screening, including why another organization is not eligible.
    assert "另一家机构" in project and "其服务领域（青少年服务）不包括老年人服务" in project
    town = as_user("town")
    page = town.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "审查与表决结果" in page and "表决通过" in page
    assert "吴晓东" in page and "orgstaff" not in page  # the project lead, by name


def test_the_applicant_does_not_see_why_other_organizations_were_ruled_out(web, as_user):
    instance_id = start_project(web)
    advance(web, instance_id, "plan_survey")
    applicant = as_user("orgstaff")
    project = applicant.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "申请的社会组织符合承接该服务事项的条件" in project
    assert "另一家机构" not in project and "不包括" not in project
    task = advance(web, instance_id, "plan_survey")
    page = applicant.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "申请的社会组织符合承接该服务事项的条件" in page and "另一家机构" not in page


def test_a_user_acting_for_the_applicant_gets_no_ballot(web, as_user):
    from engine.core import users

    with unit_of_work(web.services.session_factory) as session:
        both = session.scalar(select(User).where(User.username == "rep0"))
        users.grant_role(session, both, "social_organization", web.world.org.id)
    instance_id = start_project(web)
    advance(web, instance_id, "approve_application")
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        voters = session.scalars(select(Task.assignee).where(Task.instance_id == instance_id,
                                                             Task.bpmn_id == "cast_ballot")).all()
    assert sorted(voters) == ["rep1", "rep2", "rep4"]
    page = as_user("committee").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "在本系统中代表乐清社工服务中心办理事务" in page
