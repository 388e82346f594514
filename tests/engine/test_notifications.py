"""Notifications on the real diagram with the real workers: who hears what, stored as a kind
with its parameters (worded by the page in the reader's language), once each."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine.core import notifications
from engine.core.db import unit_of_work
from engine.core.models import Notification, Task, User
from engine.core.notifications import NotificationKind as Kind
from engine.errors import NotFoundError
from engine.method import funds
from engine.method.driver import start_project
from tests.drive import decide_purchase, drive_to, voted_choices


def uow(services, readonly=False):
    return unit_of_work(services.session_factory, readonly=readonly)


def start(services, world):
    return start_project(services, world, title="象东居家养老")


def notices(services, username, kind=None):
    with uow(services, readonly=True) as session:
        query = select(Notification).where(Notification.username == username).order_by(Notification.id)
        if kind:
            query = query.where(Notification.kind == kind)
        return [(n.kind, n.params, n.task_id, n.instance_id) for n in session.scalars(query)]


def test_followers_hear_each_step_representatives_the_vote_and_the_organization_the_payment(seven_steps):
    services, world = seven_steps
    with uow(services) as session:
        funds.set_budget(session, world.town.id, services.runtime.clock().year, 100_000)
    instance_id = start(services, world)
    with uow(services) as session:
        notifications.follow(session, "supervisor", instance_id)
        notifications.follow(session, "supervisor", instance_id)  # twice is once
    task_id = drive_to(services, instance_id, "purchase_decision", voted_choices(30000))
    decide_purchase(services, world.users.town.id, task_id, purchase_amount=30000, purchase_first_installment=9000,
                    purchase_final_installment=21000)
    drive_to(services, instance_id, "report_progress", voted_choices(30000))

    moved = [params["to"] for _, params, _, at in notices(services, "supervisor", Kind.STEP_MOVED)]
    assert moved == [2, 3, 4, 5, 6]
    assert all(at == instance_id for *_, at in notices(services, "supervisor", Kind.STEP_MOVED))
    assert notices(services, "orgstaff", Kind.STEP_MOVED) == []  # not following

    [(_, vote, _, at)] = notices(services, "rep1", Kind.VOTE_RESULT)
    assert at == instance_id and vote["round"] == 1 and vote["outcome"] == "passed"
    assert vote["announcement"]["zh"].startswith("“象东居家养老”第1轮表决") and "Vote on" in vote["announcement"]["en"]
    assert len(notices(services, "committee", Kind.VOTE_RESULT)) == 1

    for username in ("orgstaff", "committee", "town"):
        [(_, paid, _, at)] = notices(services, username, Kind.PAYMENT_MADE)
        assert (paid["installment"], paid["amount_fen"], at) == (1, 900_000, instance_id)
    assert notices(services, "rep1", Kind.PAYMENT_MADE) == []

    # Ballots are the representatives' own tasks; the step's other tasks go to the role.
    assert {k for k, *_ in notices(services, "rep1") if k.startswith("task")} == {Kind.TASK_ASSIGNED}
    assert Kind.TASK_READY in {k for k, *_ in notices(services, "committee")}


def test_handing_over_tells_the_colleague_who_handed_it(seven_steps):
    services, world = seven_steps
    instance_id = start(services, world)
    with uow(services) as session:
        from engine.method.driver import add_user
        add_user(session, "committee2", "community_committee", "community", world.community.id)
    with uow(services) as session:
        task = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")).one()
        services.runtime.claims.hand_over(session, task.id, session.get(User, world.users.committee.id), "committee2")
    [(kind, params, task_id, at)] = notices(services, "committee2", Kind.TASK_HANDED)
    assert (params["by"], task_id, at) == ("committee", task.id, instance_id)
    assert params["task"] == task.name


def test_deadline_reminders_come_once_before_and_once_when_overdue(seven_steps):
    services, world = seven_steps
    instance_id = start(services, world)
    now = services.runtime.clock()
    with uow(services) as session:
        task_id = session.scalars(select(Task.id).where(Task.instance_id == instance_id, Task.state == "ready")).one()
        session.execute(update(Task).where(Task.id == task_id).values(due_at=now + timedelta(hours=30)))
    with uow(services) as session:
        assert notifications.remind_deadlines(session, now) == 0  # not within a day yet
        assert notifications.remind_deadlines(session, now + timedelta(hours=8)) == 1
        assert notifications.remind_deadlines(session, now + timedelta(hours=9)) == 0
        assert notifications.remind_deadlines(session, now + timedelta(hours=31)) == 2  # and the town
        assert notifications.remind_deadlines(session, now + timedelta(hours=40)) == 0
    kinds = [k for k, _, t, _ in notices(services, "committee") if t == task_id]
    assert kinds == [Kind.TASK_READY, Kind.DEADLINE_NEAR, Kind.OVERDUE]
    # The committee's own task is late: the town hears of it to follow up.
    [(kind, params, _, _)] = [n for n in notices(services, "town") if n[2] == task_id]
    assert (kind, params["escalated"], params["role"]) == (Kind.OVERDUE, True, "community_committee")


def test_reading_marks_only_ones_own(seven_steps):
    services, world = seven_steps
    start(services, world)
    with uow(services, readonly=True) as session:
        mine = session.scalars(select(Notification.id).where(Notification.username == "committee")).one()
        assert notifications.unread_count(session, "committee") == 1
    with uow(services) as session, pytest.raises(NotFoundError):
        notifications.mark_read(session, "town", mine)
    with uow(services) as session:
        notifications.mark_read(session, "committee", mine)
    with uow(services, readonly=True) as session:
        assert notifications.unread_count(session, "committee") == 0
