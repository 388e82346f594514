"""Topic ``funds_earmark`` (step 5): reserve the project's money in the town's yearly budget.

Params: ``amount`` in yuan (default: the project's ``budget_total``), ``year`` (default: now).
When the town has no budget for the year or too little is left, the job waits for the
budget (``WaitingError``) and goes on by itself once the town sets or raises it.
"""
from engine.core.jobs import JobContext
from engine.method import funds


def handle(job: JobContext) -> dict:
    amount = job.params.get("amount", job.project.get("budget_total"))
    year = int(job.params.get("year") or job.now.year)
    return funds.earmark(job.session, job.job_id, job.instance_id, job.project["town_id"], year,
                         funds.to_fen(amount), job.now, note=job.project.get("title", ""))
