"""Topic ``agreement_draft`` (step 5): generate and seal the purchase agreement.

Params: ``amount`` (yuan; default the project's ``budget_total``), ``installments``
(``[[label, percent], ...]``, default 30% on signing, 70% on acceptance) or
``installment_amounts`` (``[[label, yuan], ...]``, adding up to the amount), ``term_days``,
``criteria`` (acceptance criteria), ``application`` (the application's fields).
"""
from engine.method import agreements
from engine.method import funds


def handle(job):
    params = job.params
    terms = {"application": params.get("application") or job.variables.get("application") or {},
             "term_days": params.get("term_days", 180), "start": job.now}
    if params.get("installments"):
        terms["installments"] = [tuple(pair) for pair in params["installments"]]
    if params.get("installment_amounts"):
        terms["installment_amounts"] = [tuple(pair) for pair in params["installment_amounts"]]
    if params.get("criteria"):
        terms["criteria"] = params["criteria"]
    amount = funds.to_fen(params.get("amount", job.project.get("budget_total")))
    return agreements.draft(job.session, job.job_id, job.instance_id, job.project, amount, job.now, **terms)
