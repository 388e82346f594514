"""Uploads cannot fill the server: a file, a task and a person each have a quota, a draft
refuses a file it cannot keep (instead of saying 草稿已保存), and files of replaced drafts
and of cancelled tasks are removed (SQLite and PostgreSQL)."""
import io

from sqlalchemy import func, select

from engine.core import attachments
from engine.core.db import unit_of_work
from engine.core.models import Attachment, Task, User
from tests.webui.conftest import ready_task, start_project


def _files(web) -> list[Attachment]:
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        return list(session.scalars(select(Attachment).order_by(Attachment.id)))


def _draft(client, task_id: str, content: bytes, name: str):
    response = client.post(f"/tasks/{task_id}/draft", {"screening_documents": (io.BytesIO(content), name)},
                           content_type="multipart/form-data")
    environ_input = response.request.environ.get("wsgi.input")
    if environ_input is not None:
        environ_input.close()  # the test client spools a large body to a temporary file
    return response


def test_a_too_large_file_in_a_draft_is_refused_with_a_message_not_silently_dropped(web, as_user):
    task = ready_task(web, start_project(web))
    committee = as_user("committee")
    response = _draft(committee, task.id, b"x" * (21 * 1024 * 1024), "大文件.pdf")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "草稿未保存" in page and "20 MB" in page and "草稿已保存" not in page
    assert _files(web) == []
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert not session.get(Task, task.id).draft


def test_drafts_saved_again_and_again_do_not_pile_up_files(web, as_user):
    task = ready_task(web, start_project(web))
    committee = as_user("committee")
    for n in range(5):
        assert _draft(committee, task.id, b"%d" % n * 1024, f"名单{n}.txt").status_code == 302
    files = _files(web)
    assert [f.filename for f in files] == ["名单4.txt"]  # only the file the draft holds now


def test_one_task_cannot_hold_more_than_its_quota(web, as_user, monkeypatch):
    monkeypatch.setattr(attachments, "TASK_QUOTA_BYTES", 3000)
    task = ready_task(web, start_project(web))
    with unit_of_work(web.services.session_factory) as session:
        attachments.store(session, b"a" * 2000, "一.txt", "committee", task_id=task.id, field="f")
    committee = as_user("committee")
    response = committee.post(f"/tasks/{task.id}/complete",
                              {"screening_documents": (io.BytesIO(b"b" * 2000), "二.txt")},
                              content_type="multipart/form-data")
    assert response.status_code == 422
    assert "本任务的文件" in response.get_data(as_text=True)
    assert [f.filename for f in _files(web)] == ["一.txt"]


def test_one_person_cannot_fill_the_server_through_many_open_drafts(web, as_user, monkeypatch):
    monkeypatch.setattr(attachments, "USER_QUOTA_BYTES", 5000)
    committee = as_user("committee")
    tasks = [ready_task(web, start_project(web, title=f"项目{n}")) for n in range(3)]
    assert _draft(committee, tasks[0].id, b"a" * 2000, "甲.txt").status_code == 302
    assert _draft(committee, tasks[1].id, b"b" * 2000, "乙.txt").status_code == 302
    refused = _draft(committee, tasks[2].id, b"c" * 2000, "丙.txt")
    assert refused.status_code == 422 and "未完成任务中的文件" in refused.get_data(as_text=True)
    assert sorted(f.filename for f in _files(web)) == ["乙.txt", "甲.txt"]
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert not session.get(Task, tasks[2].id).draft
        assert session.scalar(select(func.count()).select_from(User)) > 0


def test_files_of_a_cancelled_projects_drafts_are_removed(web, as_user, tmp_path):
    web.services.settings.attachments_dir = str(tmp_path / "files")
    instance_id = start_project(web)
    task = ready_task(web, instance_id)
    committee = as_user("committee")
    assert _draft(committee, task.id, "草稿附件".encode(), "附件.txt").status_code == 302
    [stored] = _files(web)
    assert stored.path and (tmp_path / "files").exists()
    town = as_user("town")
    town.get(f"/instances/{instance_id}")
    assert town.post(f"/instances/{instance_id}/terminate", {"reason": "项目取消"}).status_code == 302
    with unit_of_work(web.services.session_factory) as session:
        assert attachments.prune_abandoned(session) == 1
    assert _files(web) == []
    assert not list((tmp_path / "files").rglob("*")) or all(p.is_dir() for p in (tmp_path / "files").rglob("*"))
