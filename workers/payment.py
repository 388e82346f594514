"""Topic ``payment``: pay one installment of the agreement, exactly once.

Params: ``installment`` (number or label such as ``on_signing``; default 1).
"""
from engine.method import payments


def handle(job):
    return payments.pay(job.session, job.job_id, job.instance_id, job.params.get("installment", 1), job.now)
