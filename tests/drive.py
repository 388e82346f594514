"""Drive a real seven-step project as its people would, with the real workers in between."""
from sqlalchemy import select

from engine.method.driver import default_choices, fill
from engine.core.db import unit_of_work
from engine.core.models import Task, User
from workers.registry import TOPICS
from workers.worker import run_workers

USERS_BY_ROLE = {"social_organization": "orgstaff", "community_committee": "committee",
                 "town_government": "town", "supervisor": "supervisor"}


def work(services) -> dict:
    """Run the real workers until no job is ready; returns their counts."""
    return run_workers(services, TOPICS, install_signals=False, until_idle=True, poll_seconds=0.01)


def voted_choices(budget_total: float = 30000) -> dict:
    """Form choices for a project whose application asks for ``budget_total`` yuan."""
    choices = default_choices()
    choices["application_budget_total"] = budget_total
    return choices


def drive_to(services, instance_id: int, stop_before: str, choices: dict) -> str:
    """Complete the project's tasks (people of the test world, real workers between them)
    until the task ``stop_before`` waits; returns its id."""
    for _ in range(200):
        work(services)
        with unit_of_work(services.session_factory) as session:
            row = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
                                  .order_by(Task.created_at, Task.id)).first()
            assert row is not None, "the project stopped before " + stop_before
            if row.bpmn_id == stop_before:
                return row.id
            user = session.scalar(select(User).where(User.username == (row.assignee or USERS_BY_ROLE[row.role])))
            form = services.runtime.task_form(session, row.id, user)
            services.runtime.complete_task(session, row.id, user, fill(form, choices))
    raise AssertionError("too many steps")


def decide_purchase(services, town_user_id: int, task_id: str, **fields) -> None:
    """The town takes the purchase decision with ``fields`` (amount, installments ...)."""
    data = {"purchase_buy": True, "purchase_funding_source": "福彩公益金", "purchase_acceptance_criteria": ["探访 500 人次"],
            **fields}
    with unit_of_work(services.session_factory) as session:
        services.runtime.complete_task(session, task_id, session.get(User, town_user_id), data)
