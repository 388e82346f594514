"""Run one job through the real queue and a real handler (no runtime: queue-level completion)."""
from engine.core.models import Job
from workers.registry import TOPICS
from workers.worker import Worker


class JobFailed(Exception):
    """The handler raised something other than a business rule (the job was failed)."""


def project_of(seed, **extra):
    return {"title": "居家养老", "town_id": seed.town_id, "community_id": seed.community_id,
            "organization_id": seed.org_ids["sunshine"], "catalog_item_id": seed.item_ids["elderly_care"],
            "lead": "lead", "budget_total": 60000, **extra}


def run_job(db, queue, seed, topic, params=None, instance_id=None, worker="w1", **variables):
    """Insert a job of ``topic``, lock it, run its handler as a worker does.

    Returns ``(outcome, result or BPMN error code, job_id)``; raises ``JobFailed`` for a failure.
    """
    variables.setdefault("project", project_of(seed))
    variables["params"] = params or {}
    with db.uow() as session:
        [job_id] = seed.add_jobs(session, topic, 1, instance_id=instance_id, variables=variables)
    with db.uow() as session:
        [job] = [j for j in queue.fetch_and_lock(session, [topic], worker, 50) if j.id == job_id]
    outcome = Worker(db.session_factory, queue, TOPICS, worker).process(job)
    with db.uow(readonly=True) as session:
        row = session.get(Job, job_id)
    if outcome == "failed":
        raise JobFailed(row.error_message)
    return outcome, row.result["bpmn_error"] if outcome == "bpmn_error" else row.result, job_id
