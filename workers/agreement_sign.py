"""Topic ``agreement_sign`` (step 5): record both sides' signatures on the sealed text.

Params: ``purchaser`` / ``contractor`` usernames (default: who completed the town's and the
organization's signing tasks after the draft), ``seal`` (the seal the signers were shown).
BPMN error ``agreement_tampered`` if the text changed since it was sealed.
"""
from engine.method import agreements
from engine.errors import BusinessRuleError


def handle(job):
    agreement = agreements.latest(job.session, job.instance_id)
    from_tasks = agreements.signers_from_tasks(job.session, agreement)
    for party in agreements.PARTIES:
        username, when = job.params.get(party), job.now
        if not username and party in from_tasks:
            username, when = from_tasks[party]
        if not username:
            raise BusinessRuleError(f"No one has signed for the {party}.", code="not_signed")
        agreements.sign(job.session, agreement, party, username, when, seal=job.params.get("seal"))
    return agreements.summary(agreement)
