"""A trial run step by step: the administrator completes a task with data typed by hand,
moves the sandbox clock to the next timer, sends a message the project waits for; the
report says which sequence flows (and ways out of each gateway) were taken."""

import pytest

from engine.core.db import unit_of_work
from engine.errors import ValidationError
from engine.method.driver import fill
from workers.trial_sandbox import Sandbox, run_trial


@pytest.fixture
def sandbox(services, draft, tmp_path):
    bpmn, forms = draft
    box = Sandbox.create(services.db, bpmn, forms, admin="admin", settings=services.settings, root=tmp_path)
    yield box
    box.close()


def reopen(box, services, tmp_path):
    box.close()
    return Sandbox.open(box.token, services.settings, root=tmp_path)


def covered_ids(report):
    return {i for items in report.covered.values() for i, _ in items}


def until_open(box, bpmn_id):
    """Let the project run on until ``bpmn_id`` is open (completing whatever comes first)."""
    for _ in range(60):
        tasks = box.open_tasks()
        match = [met for met, _form in tasks if met.bpmn_id == bpmn_id]
        if match:
            return match[0]
        if tasks:
            box.complete(tasks[0][0].task_id)
        else:
            box.advance_clock()
    raise AssertionError(f"{bpmn_id} never opened")


def test_hand_typed_data_is_checked_by_the_form_and_refused_data_changes_nothing(sandbox, services, tmp_path):
    first, form = sandbox.open_tasks()[0]
    state_before = (sandbox.folder / "trial.json").read_text(encoding="utf-8")
    wrong = {name: 12345 for name in form["properties"]}  # numbers where the form wants words
    with pytest.raises(ValidationError) as refused:
        sandbox.complete(first.task_id, wrong)
    assert refused.value.errors  # per field, shown next to the field
    box = reopen(sandbox, services, tmp_path)
    assert [t.task_id for t, _ in box.open_tasks()] == [first.task_id]
    assert (box.folder / "trial.json").read_text(encoding="utf-8") == state_before
    box.complete(first.task_id, fill(form, {}))
    report = reopen(box, services, tmp_path).report()
    assert report.tasks[0].bpmn_id == first.bpmn_id and report.tasks[0].by_hand and report.tasks[0].done_by
    assert first.task_id not in [t.task_id for t, _ in box.open_tasks()]


def test_the_clock_is_moved_to_the_next_timer_by_hand(sandbox, services, tmp_path):
    until_open(sandbox, "cast_ballot")
    due = sandbox.next_timer()
    assert due is not None
    fired_at = reopen(sandbox, services, tmp_path).advance_clock()
    box = Sandbox.open(sandbox.token, services.settings, root=tmp_path)
    assert fired_at == due and box.report().timers
    # The voting deadline passed: the ballots not cast are marked absent.
    report = box.report()
    assert "ballot_deadline" in covered_ids(report)
    assert "flow_ballot_deadline_to_mark_absent" in covered_ids(report)
    box.close()


def test_a_message_the_project_waits_for_is_sent_and_an_unknown_one_refused(sandbox, services, tmp_path):
    for _ in range(80):
        if "coordination_requested" in sandbox.waiting_messages():
            break
        met, _form = sandbox.open_tasks()[0]
        sandbox.complete(met.task_id)
    assert "coordination_requested" in sandbox.waiting_messages()
    state_before = (sandbox.folder / "trial.json").read_text(encoding="utf-8")
    with pytest.raises(ValidationError):
        sandbox.send_message("no_such_message")
    assert (sandbox.folder / "trial.json").read_text(encoding="utf-8") == state_before
    sandbox.send_message("coordination_requested")
    box = reopen(sandbox, services, tmp_path)
    assert "coordination_meeting" in [t.bpmn_id for t, _ in box.open_tasks()]
    report = box.report()
    assert report.messages == ["coordination_requested"]
    assert "flow_wait_coordination_to_coordination_meeting" in covered_ids(report)


def test_coverage_is_reported_per_sequence_flow_and_gateway_branch(services, draft):
    bpmn, forms = draft
    report = run_trial(services.db, bpmn, forms)
    branches = {gateway: {b.flow_id: b.taken for b in ways} for (gateway, _name), ways in report.branches.items()}
    assert branches["gw_vote_passed"]["flow_gw_vote_passed_to_decide_failed_vote"] is False
    assert sum(branches["gw_vote_passed"].values()) == 1  # the vote passed
    # A way out of a gateway is taken only when the project went that way: both sides of
    # the delivery loop ("continue", then "finished") were.
    assert all(branches["gw_delivery_finished"].values())
    missed = {i for i, _ in report.missed["flow"]}
    assert "flow_gw_vote_passed_to_decide_failed_vote" in missed
    assert "gw_failed_vote" in {i for i, _ in report.missed["gateway"]}
    # A flow between two covered elements is still missed when the project never went along it.
    covered = covered_ids(report)
    assert {"gw_application_mature", "gw_consultation_merge"} <= covered
    assert "flow_revise_application_to_gw_consultation_merge" in missed
    rerun = run_trial(services.db, bpmn, forms, {"consultation_outcome": "revise"})
    assert "flow_gw_application_mature_to_revise_application" in covered_ids(rerun)
    assert all(b.taken for (gateway, _), ways in rerun.branches.items() if gateway == "gw_application_mature"
               for b in ways)


def test_a_required_file_field_gets_a_sample_file_kept_in_the_sandbox(services, draft, tmp_path):
    import copy

    from sqlalchemy import func, select

    from engine.core import attachments
    from engine.core.models import Attachment, Task
    from workers.trial_sandbox import SAMPLE_FILE_NAME
    bpmn, forms = draft
    forms = copy.deepcopy(forms)
    schema = forms["confirm_catalog_item.schema.json"]
    schema["required"] = [*schema.get("required", []), "screening_documents"]
    box = Sandbox.create(services.db, bpmn, forms, admin="admin", settings=services.settings, root=tmp_path)
    try:
        first, form = box.open_tasks()[0]
        assert first.bpmn_id == "confirm_catalog_item" and "screening_documents" in form["required"]
        typed = fill(form, {})
        assert "screening_documents" not in typed  # as the hand-filled form sends it: no upload
        box.complete(first.task_id, typed)
        assert first.task_id not in [t.task_id for t, _ in box.open_tasks()]
        with unit_of_work(box.services.session_factory, readonly=True) as session:
            value = session.get(Task, first.task_id).data["screening_documents"]
            assert value.startswith("attachment:") and value.endswith(SAMPLE_FILE_NAME)
            stored, content = attachments.load(session, int(value.split(":")[1]))
            assert stored.task_id == first.task_id and "试运行样例文件：筛选材料" in content.decode()
    finally:
        box.close()
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 0  # nothing in the real database


def make_folders(root):
    """Four sandbox folders: touched 7 hours ago and just now, each with its state file and
    half-made (without it)."""
    import os
    import time
    old = time.time() - 7 * 3600
    folders = {}
    for name, has_state, age in (("old", True, old), ("fresh", True, None), ("old_half", False, old),
                                 ("fresh_half", False, None)):
        folder = root / f"{name:0<32}"
        folder.mkdir(parents=True)
        if has_state:
            (folder / "trial.json").write_text("{}", encoding="utf-8")
            if age:
                os.utime(folder / "trial.json", (age, age))
        elif age:
            os.utime(folder, (age, age))
        folders[name] = folder
    return folders


def test_sandboxes_nobody_touched_for_hours_are_removed(tmp_path):
    from workers.trial_sandbox import remove_expired
    folders = make_folders(tmp_path / "sanshe-trials")
    assert remove_expired(tmp_path / "sanshe-trials") == 2
    assert {name for name, folder in folders.items() if folder.exists()} == {"fresh", "fresh_half"}
    assert remove_expired(tmp_path / "nowhere") == 0


@pytest.mark.slow
def test_the_scheduler_removes_expired_sandboxes(services, db_url, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    folders = make_folders(tmp_path / "sanshe-trials")
    env = dict(os.environ, SANSHE_DATABASE_URL=db_url, PYTHONPATH=str(root), TMPDIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "cli", "scheduler", "--once"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert {name for name, folder in folders.items() if folder.exists()} == {"fresh", "fresh_half"}
    assert "removed 2 expired trial run sandbox(es)" in done.stderr + done.stdout
