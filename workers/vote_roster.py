"""Topic ``vote_roster`` (step 4): who votes, who is recused (the lead, the applicant's people).

Result: ``voters`` (usernames, one vote task each), ``recused`` (with reasons), ``members``.
"""
from engine.method import voting


def handle(job):
    lead = job.params.get("lead") or job.project.get("lead")
    return voting.roster(job.session, job.instance_id, lead=lead, now=job.now)
