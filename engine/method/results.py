"""Checks of a service-task result against the facts the rule recorded.

A worker's result moves the project on, so a result that no recorded fact backs (a vote
tally with no tally of the ballots, an earmark with no ledger entry) or that contradicts the
fact (``passed`` while the recorded tally says rejected) is refused: the job becomes an
incident for an administrator. Sanshe's own workers record the fact in the same transaction
as the result, so their results always pass; a worker elsewhere can only report results of
topics that record nothing.
"""
from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.models import Job
from engine.method.funds import held_for
from engine.method.models import Agreement, Decision, LedgerEntry, Payment

# topic -> (table holding the fact, what the fact is called in a refusal)
RECORDED_FACTS: dict[str, tuple[Any, str]] = {
    "vote_tally": (Decision, "tally of the ballots"),
    "acceptance_decision": (Decision, "acceptance decision"),
    "funds_earmark": (LedgerEntry, "ledger entry"),
    "funds_release": (LedgerEntry, "ledger entry"),
    "agreement_draft": (Agreement, "agreement"),
    "payment": (Payment, "payment"),
}
# Result keys that must equal the recorded decision's figure of the same name.
DECISION_KEYS = ("passed", "outcome", "accepted", "yes", "no", "abstain", "present", "members", "quorum_met")



def _shape(required: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"type": "object", "required": sorted(required), "properties": required}


_BOOLEAN = {"type": "boolean"}
_COUNT = {"type": "integer", "minimum": 0}
# The JSON Schema of each topic's result: at least what the diagram's conditions read.
RESULT_SCHEMAS: dict[str, dict[str, Any]] = {
    "eligibility_check": _shape({"eligible": _BOOLEAN}),
    "vote_roster": _shape({"voters": {"type": "array"}}),
    "vote_tally": _shape({"passed": _BOOLEAN, "outcome": {"type": "string"}}),
    "funds_earmark": _shape({"amount_fen": _COUNT}),
    "funds_release": _shape({"amount_fen": _COUNT}),
    "acceptance_decision": _shape({"accepted": _BOOLEAN}),
    "payment": _shape({"amount_fen": _COUNT}),
    "notify": _shape({"sent": _COUNT}),
}


def result_problem(session: Session, job: Job, result: dict[str, Any]) -> str | None:
    """Why ``result`` for ``job`` does not match its topic's schema, or contradicts or lacks
    the recorded facts; None when it holds."""
    schema = RESULT_SCHEMAS.get(job.topic)
    if schema is not None:
        error = next(iter(Draft202012Validator(schema).iter_errors(result)), None)
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "result"
            return f"the result does not match the {job.topic} schema at {where}: {error.message}"
    fact = RECORDED_FACTS.get(job.topic)
    if fact is None:
        return None
    table, name = fact
    row = session.scalar(select(table).where(table.job_id == job.id))
    if row is None:
        if job.topic == "funds_release" and not any(held_for(session, job.instance_id).values()):
            return None  # nothing was held, so there was nothing to record
        return f"no {name} was recorded for this {job.topic} job; its result cannot be accepted"
    if isinstance(row, Decision):
        for key in DECISION_KEYS:
            if key in result and key in row.details and result[key] != row.details[key]:
                return (f"the result says {key}={result[key]!r} but the recorded {name} says "
                        f"{key}={row.details[key]!r}")
    return None
