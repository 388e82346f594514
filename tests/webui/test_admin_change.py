"""With no code change, an administrator changes the process in the browser: a new town task
with a new form between step 1 and step 2, and a stricter vote-pass threshold. New projects
follow the new version, a running project keeps its own, and a migrated one continues on
the new one. The vote is counted by the real vote_roster and vote_tally workers."""
import io
import json
import re

from sqlalchemy import select

from engine.core import migration_runs
from engine.core.db import unit_of_work
from engine.core.models import AuditEntry, Definition, Instance, Job, Task
from engine.method import driver
from engine.method.driver import People, default_choices, fill
from tests import diagram_edits as edits
from tests.drive import real_workers

from .conftest import start_project

REAL_WORKERS = ("vote_roster", "vote_tally")
# Five representatives: three for, two against. 3/5 passes "more than 1/2" but not "more than 2/3".
BALLOTS = {"rep0": "yes", "rep1": "yes", "rep2": "yes", "rep3": "no", "rep4": "no"}


class Voters(People):
    """The test world's people; the representatives vote as ``BALLOTS`` says."""

    def data(self, task, actor, form):
        return fill(form, {**self.choices, "ballot": BALLOTS.get(task.assignee, "yes")})


def drive(web, instance_id, until):
    """Work the instance (people through the runtime, the vote through the real workers) until a
    task named in ``until`` waits; returns the bpmn ids of the human tasks done."""
    people = Voters({**default_choices(), "town_budget_ceiling": 60000})
    task = driver.drive(web.services, instance_id, people, stop_before=until,
                        work=real_workers(web.services, REAL_WORKERS))
    assert task is not None, f"instance {instance_id} ended before {until}"
    return people.history


def vote_result(web, instance_id):
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        return session.scalars(select(Job.result).where(Job.instance_id == instance_id, Job.topic == "vote_tally")).one()


def definition_of(web, instance_id):
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        return session.get(Definition, session.get(Instance, instance_id).definition_id).version


def test_an_administrator_adds_a_town_task_and_raises_the_vote_threshold(web, as_user):
    kept = start_project(web, title="留在第一版的项目")
    drive(web, kept, until={"consultation_meeting"})
    moved = start_project(web, title="迁移到第二版的项目")
    drive(web, moved, until={"approve_qualification"})

    admin = as_user("admin")
    admin.get("/admin/definitions/1/edit")
    xml = edits.set_param(edits.insert_town_task(edits.original()), "tally_votes", "pass_ratio", "2/3")
    form_file = (io.BytesIO(json.dumps(edits.NEW_FORM_SCHEMA, ensure_ascii=False).encode()), edits.NEW_FORM)
    response = admin.post("/admin/definitions/1/edit", {"bpmn_xml": xml, "forms": form_file},
                          content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["ok"] and response.json["version"] == 2 and response.json["created"]
    listing = admin.get("/admin/").get_data(as_text=True)
    assert '<tr data-version="2">' in listing

    # The dry run: both v1 projects can move; move only one of them.
    dry = admin.get("/admin/migrate?target=2").get_data(as_text=True)
    for instance_id in (kept, moved):
        assert re.search(rf'<tr data-instance="{instance_id}" class="ok">', dry)
    # Each says what it will meet: the one before the new task meets it, both the new ratio.
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(r'<tr data-instance="(\d+)".*?>(.*?)</tr>', dry, re.S)}
    assert "前方新增任务：镇政府确认预算上限" in rows[moved] and "前方新增任务" not in rows[kept]
    for instance_id in (kept, moved):
        assert re.search(r"通过：赞成票占到会人数的比例 <del>1/2</del> → <ins>2/3</ins>", rows[instance_id])
    response = admin.post("/admin/migrate", {"target": "2", "instance": str(moved)})
    assert response.status_code == 302 and "/admin/migrations/" in response.location
    assert definition_of(web, moved) == 1  # the request only starts the run
    migration_runs.run_pending(web.services.runtime, web.services.session_factory)  # the scheduler's part
    assert 'data-testid="migration-finished"' in admin.get(response.location).get_data(as_text=True)
    assert (definition_of(web, kept), definition_of(web, moved)) == (1, 2)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "migrate")).all()
        assert entry.actor == "admin" and entry.target == f"instance {moved}"
    assert f"instance {moved}" in admin.get("/admin/audit").get_data(as_text=True)

    # A new project starts on version 2 and goes through the new task and the new threshold.
    new = start_project(web, title="新版本上的项目")
    assert definition_of(web, new) == 2
    done = drive(web, new, until={"approve_application", "decide_failed_vote"})
    assert done.index("approve_qualification") < done.index(edits.NEW_TASK) < done.index("plan_survey")
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        new_task = session.scalars(select(Task).where(Task.instance_id == new, Task.bpmn_id == edits.NEW_TASK)).one()
        assert new_task.role == "town_government" and new_task.data == {"town_budget_ceiling": 60000}
        waiting = session.scalars(select(Task.bpmn_id).where(Task.instance_id == new, Task.state == "ready")).all()
    result = vote_result(web, new)
    assert (result["yes"], result["no"], result["pass_ratio"], result["passed"]) == (3, 2, "2/3", False)
    assert waiting == ["decide_failed_vote"]

    # The project that kept version 1: the same ballots pass under "more than 1/2".
    done = drive(web, kept, until={"approve_application", "decide_failed_vote"})
    assert edits.NEW_TASK not in done
    result = vote_result(web, kept)
    assert (result["yes"], result["pass_ratio"], result["passed"]) == (3, "1/2", True)

    # The migrated project continues: through the new task, on to the survey.
    done = drive(web, moved, until={"plan_survey"})
    assert done == ["approve_qualification", edits.NEW_TASK]


def start_migration(as_user, projects):
    """The administrator saves version 2 (a vote passes at more than 2/3) and starts moving
    ``projects`` to it; returns the administrator's client and the response to the start."""
    admin = as_user("admin")
    admin.get("/admin/definitions/1/edit")
    xml = edits.set_param(edits.original(), "tally_votes", "pass_ratio", "2/3")
    assert admin.post("/admin/definitions/1/edit", {"bpmn_xml": xml}, headers={"Accept": "application/json"}).json["ok"]
    admin.get("/admin/migrate?target=2")
    return admin, admin.post("/admin/migrate", {"target": "2", "instance": [str(i) for i in projects]})


def test_many_projects_move_in_the_background_in_batches_with_progress(web, as_user, monkeypatch):
    from engine.core import migration
    monkeypatch.setattr(migration, "BATCH_SIZE", 2)
    projects = [start_project(web, title=f"批量迁移 {n}") for n in range(5)]
    admin, started = start_migration(as_user, projects)
    assert started.status_code == 302
    page = admin.get(started.location).get_data(as_text=True)
    assert "选中的 5 个项目已处理 0 个，迁移了 0 个。" in page and "data-run-running" in page
    # The dry run's page points to the run under way; a second start meanwhile is refused.
    dry = admin.get("/admin/migrate?target=2").get_data(as_text=True)
    assert 'data-testid="migration-under-way"' in dry and started.location in dry
    again = admin.post("/admin/migrate", {"target": "2", "instance": [str(projects[4])]})
    assert again.status_code == 422 and "已经在迁移" in again.get_data(as_text=True)
    # The scheduler moves one batch per pass; the page shows how far it has got.
    run_pending = migration_runs.run_pending
    assert run_pending(web.services.runtime, web.services.session_factory) == 1
    page = admin.get(started.location).get_data(as_text=True)
    assert "选中的 5 个项目已处理 2 个，迁移了 2 个。" in page
    assert [definition_of(web, i) for i in projects] == [2, 2, 1, 1, 1]
    while run_pending(web.services.runtime, web.services.session_factory):
        pass
    page = admin.get(started.location).get_data(as_text=True)
    assert "选中的 5 个项目已处理 5 个，迁移了 5 个。" in page and "data-run-running" not in page
    assert 'data-testid="migration-finished"' in page
    assert [definition_of(web, i) for i in projects] == [2, 2, 2, 2, 2]


def test_a_run_that_keeps_failing_says_why_and_the_administrator_resumes_it(web, as_user):
    from tests.engine.test_migration_runs import StorageAway
    projects = [start_project(web, title=f"迁移出错 {n}") for n in range(2)]
    admin, started = start_migration(as_user, projects)
    runtime = StorageAway(web.services.runtime)
    migration_runs.run_pending(runtime, web.services.session_factory)
    page = admin.get(started.location).get_data(as_text=True)
    assert 'data-testid="migration-retrying"' in page and "下一轮再试" in page and "data-run-running" in page
    for _ in range(migration_runs.MAX_FAILURES - 1):
        migration_runs.run_pending(runtime, web.services.session_factory)
    page = admin.get(started.location).get_data(as_text=True)
    assert 'data-testid="migration-failed"' in page and "失败" in page and "data-run-running" not in page
    assert "意外错误 OSError：No space left on device" in page
    assert "迁移已停止" in page
    dry = admin.get("/admin/migrate?target=2").get_data(as_text=True)
    assert "出错后已停止" in dry and "查看原因并继续" in dry and started.location in dry
    audit_page = admin.get("/admin/audit").get_data(as_text=True)
    assert "迁移项目到其他版本时出错后停止" in audit_page
    # Resumed from the page once the cause is mended, the scheduler finishes the run.
    runtime.failing = False
    resumed = admin.post(started.location + "/resume")
    assert resumed.status_code == 302 and resumed.location.endswith(started.location)
    assert admin.post(started.location + "/resume").status_code == 422  # not stopped any more
    while migration_runs.run_pending(runtime, web.services.session_factory):
        pass
    page = admin.get(started.location).get_data(as_text=True)
    assert 'data-testid="migration-finished"' in page and "migration-failed" not in page
    assert [definition_of(web, i) for i in projects] == [2, 2]
