"""Topic ``vote_tally`` (step 4): count the ballots, record the result, announce it at once.

Params (from the diagram): ``quorum_ratio`` (default 2/3), ``pass_ratio`` (default 1/2),
``ballots`` (default: task data ``ballots`` or ``votes``), ``voters`` (default: the roster now).
"""
from engine.method import voting


def handle(job):
    params = job.params
    ballots = params.get("ballots")
    if ballots is None:
        ballots = job.variables.get("ballots", job.variables.get("votes", []))
    roster = None
    voters = params.get("voters")
    if voters is None:
        roster = voting.roster(job.session, job.instance_id, lead=job.project.get("lead"))
        voters = roster["voters"]
    recused = params.get("recused", roster["recused"] if roster else [])
    return voting.record_tally(job.session, job.job_id, job.instance_id, voters, recused, ballots,
                               params.get("quorum_ratio", "2/3"), params.get("pass_ratio", "1/2"), job.now)
