"""Checks of a service-task result against the facts the rule recorded.

A worker's result moves the project on, so a result that no recorded fact backs (a vote
tally with no tally of the ballots, an earmark with no ledger entry) or that contradicts the
fact (``passed`` while the recorded tally says rejected) is refused: the job becomes an
incident for an administrator. Sanshe's own workers record the fact in the same transaction
as the result, so their results always pass; a worker elsewhere can only report results of
topics that record nothing.

Rules that record no fact of their own are checked against what they read: the eligibility
screening is run again on the register and the catalog item, the panel check on the people,
their affiliations and recusal, and the agreement's signing and verification against the
stored, sealed agreement and its signatures.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.models import Job
from engine.errors import BusinessRuleError, NotFoundError
from engine.method import agreements, eligibility, evaluation
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
    "panel_check": _shape({"members": {"type": "array", "items": {"type": "string"}}}),
    "agreement_sign": _shape({"agreement_id": _COUNT, "seal": {"type": "string"}}),
    "agreement_verify": _shape({"ok": _BOOLEAN, "seal": {"type": "string"}}),
}


def _params(job: Job) -> tuple[dict[str, Any], dict[str, Any]]:
    variables = job.variables or {}
    return variables.get("params") or {}, variables.get("project") or {}


def _eligibility_problem(session: Session, job: Job, result: dict[str, Any], now: datetime | None) -> str | None:
    params, project = _params(job)
    item_id = params.get("catalog_item_id") or project.get("catalog_item_id")
    if item_id is None:
        return "the project names no catalog item, so no screening can back the result"
    applicant_id = project.get("organization_id")
    if applicant_id is None:
        return "the project names no applying organization, so no screening can back the result"
    try:
        screening = eligibility.screen_applicant(session, item_id, applicant_id,
                                                 params.get("organization_ids"), exclude_instance_id=job.instance_id)
    except NotFoundError as exc:
        return f"the screening cannot be repeated: {exc}"
    if result["eligible"] != screening["eligible"]:
        why = "; ".join(screening["reasons"]) or "it qualifies"
        return (f"the result says eligible={result['eligible']!r} but the register and the catalog item say "
                f"eligible={screening['eligible']!r} ({why})")
    if "eligible_ids" in result and sorted(result["eligible_ids"] or []) != sorted(screening["eligible_ids"]):
        return (f"the result lists eligible organizations {sorted(result['eligible_ids'] or [])} but the register "
                f"says {sorted(screening['eligible_ids'])}")
    return None


def _panel_problem(session: Session, job: Job, result: dict[str, Any], now: datetime | None) -> str | None:
    params, _project = _params(job)
    panel = params.get("panel", (job.variables or {}).get("panel", []))
    try:
        checked = evaluation.check_panel(session, job.instance_id, panel, params.get("min_size", 3),
                                         params.get("service_recipients"), now=now)
    except BusinessRuleError as exc:
        return f"the panel check of the people and their ties says the panel is not valid: {exc}"
    except NotFoundError as exc:
        return f"the panel check cannot be repeated: {exc}"
    if list(result["members"]) != checked["members"]:
        return f"the result lists the panel {result['members']} but the people chosen are {checked['members']}"
    return None


def _latest_agreement(session: Session, job: Job) -> Agreement | None:
    try:
        return agreements.latest(session, job.instance_id)
    except NotFoundError:
        return None


def _signing_problem(session: Session, job: Job, result: dict[str, Any], now: datetime | None) -> str | None:
    agreement = _latest_agreement(session, job)
    if agreement is None:
        return "the project has no agreement, so nothing can have been signed"
    if result["agreement_id"] != agreement.id or result["seal"] != agreement.seal:
        return (f"the result names agreement {result['agreement_id']} with seal {result['seal'][:12]}, but the "
                f"project's agreement is {agreement.id} with seal {agreement.seal[:12]}")
    missing = sorted(set(agreements.PARTIES) - {s.party for s in agreement.signatures})
    if missing:
        return f"no signature of the {', '.join(missing)} was recorded on the agreement"
    check = agreements.verify(agreement)
    if not check["ok"]:
        return "the agreement does not verify: " + "; ".join(check["problems"])
    return None


def _verification_problem(session: Session, job: Job, result: dict[str, Any], now: datetime | None) -> str | None:
    agreement = _latest_agreement(session, job)
    if agreement is None:
        return "the project has no agreement to verify"
    check = agreements.verify(agreement)
    if result["ok"] != check["ok"] or result["seal"] != agreement.seal:
        problems = "; ".join(check["problems"]) or "it verifies"
        return f"the result says ok={result['ok']!r} but the stored agreement says ok={check['ok']!r} ({problems})"
    return None


# Rules whose result is checked by repeating the rule on what it reads.
REPEATED_CHECKS = {
    "eligibility_check": _eligibility_problem,
    "panel_check": _panel_problem,
    "agreement_sign": _signing_problem,
    "agreement_verify": _verification_problem,
}


def _validator(schema: dict[str, Any]) -> Validator:
    # seen through jsonschema's Validator protocol: the class's own stub leaves an overload of iter_errors untyped
    return Draft202012Validator(schema)


def result_problem(session: Session, job: Job, result: dict[str, Any], now: datetime | None = None) -> str | None:
    """Why ``result`` for ``job`` does not match its topic's schema, or contradicts or lacks
    the recorded facts; None when it holds. ``now`` is the day recusal is judged on (the
    runtime's clock)."""
    schema = RESULT_SCHEMAS.get(job.topic)
    if schema is not None:
        error = next(iter(_validator(schema).iter_errors(result)), None)
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "result"
            return f"the result does not match the {job.topic} schema at {where}: {error.message}"
    repeat = REPEATED_CHECKS.get(job.topic)
    if repeat is not None:
        return repeat(session, job, result, now)
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
