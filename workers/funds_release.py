"""Topic ``funds_release``: give back what a rejected or terminated project holds."""
from engine.method import funds


def handle(job):
    return funds.release(job.session, job.job_id, job.instance_id, job.now,
                         note=job.params.get("reason", "project rejected or terminated"))
