"""Topic ``vote_tally`` (step 4): count the ballots, record the result, announce it at once.

Params (from the diagram): ``quorum_ratio`` (default 2/3), ``quorum_comparison``
(``"at_least"`` by default, or ``"more_than"``), ``pass_ratio`` (default 1/2),
``pass_comparison`` (``"more_than"`` by default, or ``"at_least"``), ``ballots`` (default:
task data ``ballots`` or ``votes``), ``voters`` (default: the roster now).
"""
from typing import Any

from engine.method import voting
from engine.method.vote_rule import VoteRule, check_parameter_texts

# What a diagram may write in the rule parameters, checked before it is deployed.
check_parameters = check_parameter_texts


def handle(job: Any) -> dict[str, Any]:
    params = job.params
    ballots = params.get("ballots")
    if ballots is None:
        ballots = job.variables.get("ballots", job.variables.get("votes", []))
    roster = None
    voters = params.get("voters")
    if voters is None:
        roster = voting.roster(job.session, job.instance_id, lead=job.project.get("lead"), now=job.now)
        voters = roster["voters"]
    recused = params.get("recused", roster["recused"] if roster else [])
    return voting.record_tally(job.session, job.job_id, job.instance_id, voters, recused, ballots,
                               VoteRule.from_params(params), job.now,
                               amount=job.variables.get("application_budget_total") or job.project.get("budget_total"))
