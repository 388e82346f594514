"""Step 7's panel and acceptance; notifications for new tasks."""
import pytest
from sqlalchemy import select

from engine.core.models import Notification, Task
from engine.core.notifications import notify_task_ready

from .helpers import JobFailed, run_job

GOOD_PANEL = [{"username": "rep1"}, {"name": "rep3"}, "rep2"]


def test_valid_panel(db, queue, seed):
    outcome, result, _ = run_job(db, queue, seed, "panel_check", params={"panel": GOOD_PANEL, "min_size": 3})
    assert outcome == "completed" and result["members"] == ["rep1", "rep3", "rep2"]
    assert result["names"] == {"rep1": "rep1", "rep3": "rep3", "rep2": "rep2"}


@pytest.mark.parametrize("panel, problem", [
    (GOOD_PANEL + ["lead"], "lead belongs to the evaluated organization"),
    (GOOD_PANEL + ["rep9"], "rep9 belongs to the evaluated organization"),
    (GOOD_PANEL + [{"name": "rep4", "service_recipient": True}], "rep4 received the service"),
    (GOOD_PANEL[:2], "needs at least 3 eligible members, it has 2"),
    (GOOD_PANEL + ["rep1"], "rep1 is listed twice"),
    (GOOD_PANEL + ["no_such_person"], "no_such_person is not a person in the system"),
    (GOOD_PANEL + [{"name": "Prof. Chen (outside expert)"}], "Prof. Chen (outside expert) is not a person"),
])
def test_invalid_panels_are_refused(db, queue, seed, panel, problem):
    outcome, code, job_id = run_job(db, queue, seed, "panel_check", params={"panel": panel, "min_size": 3})
    assert (outcome, code) == ("bpmn_error", "invalid_panel")
    from engine.core.models import Job
    with db.uow(readonly=True) as session:
        assert problem in session.get(Job, job_id).error_message


def test_a_member_of_the_evaluated_organization_is_refused_through_the_affiliation(db, queue, seed):
    from datetime import date

    from engine.core import affiliations
    from engine.core.models import User

    with db.uow() as session:
        rep5 = session.get(User, seed.users["rep5"])
        affiliations.add(session, rep5, seed.org_ids["sunshine"], "membership", date(2023, 6, 1), title="志愿者")
        rep6 = session.get(User, seed.users["rep6"])  # was a member; the tie ended before the evaluation
        affiliations.add(session, rep6, seed.org_ids["sunshine"], "membership", date(2020, 1, 1), date(2023, 1, 1))
    outcome, code, job_id = run_job(db, queue, seed, "panel_check", params={"panel": GOOD_PANEL + ["rep5", "rep6"]})
    assert (outcome, code) == ("bpmn_error", "invalid_panel")
    from engine.core.models import Job
    with db.uow(readonly=True) as session:
        job = session.get(Job, job_id)
        assert "rep5 belongs to the evaluated organization" in job.error_message
        assert "rep6" not in job.error_message


def test_acceptance_threshold_comes_from_the_diagram(db, queue, seed):
    scores = [{"member": "rep1", "score": 80}, {"member": "rep2", "score": 70}, {"member": "x", "score": 76}]
    _, passed, _ = run_job(db, queue, seed, "acceptance_decision", params={"scores": scores, "pass_score": 75})
    assert (passed["average"], passed["accepted"]) == ("75.33", True)
    _, failed, _ = run_job(db, queue, seed, "acceptance_decision", params={"scores": scores, "pass_score": 80})
    assert failed["accepted"] is False
    _, members_only, _ = run_job(db, queue, seed, "acceptance_decision",
                                 params={"scores": scores, "pass_score": 75, "members": ["rep1", "rep2"]})
    assert (members_only["average"], members_only["accepted"]) == ("75.00", True)
    with pytest.raises(JobFailed, match="pass_score"):
        run_job(db, queue, seed, "acceptance_decision", params={"scores": scores})


def test_new_task_notifies_its_people(db, seed):
    with db.uow() as session:
        common = dict(instance_id=seed.instance_id, definition_id=seed.definition_id, step=4,
                      scope_type="community", scope_id=seed.community_id)
        open_task = Task(id="t-open", bpmn_id="convene", name="Convene the meeting", role="community_committee", **common)
        vote = Task(id="t-vote", bpmn_id="vote", name="Vote", role="resident_representative", assignee="rep3", **common)
        session.add_all([open_task, vote])
        session.flush()
        assert notify_task_ready(session, open_task) == 1  # the committee's one member
        assert notify_task_ready(session, vote) == 1
    with db.uow(readonly=True) as session:
        rows = session.execute(select(Notification.username, Notification.task_id).order_by(Notification.id)).all()
    assert rows == [("chair", "t-open"), ("rep3", "t-vote")]


def test_notify_topic_sends_once_per_job(db, queue, seed):
    _, result, job_id = run_job(db, queue, seed, "notify", params={"message": "Meeting at 9", "role": "community_committee",
                                                                   "to": ["rep1"]})
    assert result == {"sent": 2}
    from engine.core.notifications import notify
    with db.uow() as session:
        assert notify(session, ["rep1", "chair"], "Meeting at 9", job_id=job_id) == []
