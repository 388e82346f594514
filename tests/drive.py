"""Drive a real seven-step project as its people would, with the real workers in between."""
from engine.core.db import unit_of_work
from engine.core.jobs import JobQueue
from engine.core.models import User
from engine.method.driver import USERS_BY_ROLE, People, default_choices, drive  # noqa: F401 (USERS_BY_ROLE: tests')
from workers.registry import TOPICS
from workers.worker import Worker, run_workers


def work(services) -> dict:
    """Run the real workers until no job is ready; returns their counts."""
    return run_workers(services, TOPICS, install_signals=False, until_idle=True, poll_seconds=0.01)


def real_workers(services, topics, outcomes=("completed",)):
    """A ``work`` for :func:`~engine.method.driver.drive`: the real handlers of ``topics`` until
    no job of theirs is ready, each job ending in one of ``outcomes`` (the driver's stand-ins
    answer the other topics)."""
    worker = Worker(services.session_factory, JobQueue(services.settings, services.runtime),
                    {topic: TOPICS[topic] for topic in topics}, "worker-1")

    def run():
        counts = worker.run(until_idle=True)
        assert not {outcome for outcome, n in counts.items() if n} - set(outcomes), counts
    return run


def voted_choices(budget_total: float = 30000) -> dict:
    """Form choices for a project whose application asks for ``budget_total`` yuan."""
    choices = default_choices()
    choices["application_budget_total"] = budget_total
    return choices


def drive_to(services, instance_id: int, stop_before: str | None, choices: dict) -> str | None:
    """Complete the project's tasks (people of the test world, real workers between them)
    until the task ``stop_before`` waits (returns its id) or, with None, to the project's end."""
    task = drive(services, instance_id, People(choices), stop_before={stop_before} if stop_before else (),
                 work=lambda: work(services), answer=None, max_steps=200)
    assert (task is None) == (stop_before is None), f"the project stopped before {stop_before}"
    return task.id if task else None


def decide_purchase(services, town_user_id: int, task_id: str, **fields) -> None:
    """The town takes the purchase decision with ``fields`` (amount, installments ...)."""
    data = {"purchase_buy": True, "purchase_funding_source": "福彩公益金", "purchase_acceptance_criteria": ["探访 500 人次"],
            **fields}
    with unit_of_work(services.session_factory) as session:
        services.runtime.complete_task(session, task_id, session.get(User, town_user_id), data)
