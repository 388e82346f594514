"""Topic ``agreement_verify``: is the agreement still the text that was sealed and signed?

BPMN error ``agreement_tampered`` when not; the result lists what changed otherwise.
"""
from engine.method import agreements
from engine.errors import BusinessRuleError


def handle(job):
    check = agreements.verify(agreements.latest(job.session, job.instance_id))
    if not check["ok"]:
        raise BusinessRuleError("The agreement was changed: " + "; ".join(check["problems"]),
                                code="agreement_tampered", variables={"agreement_check": check})
    return check
