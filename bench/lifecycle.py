"""Drive a seven-step project to its end with made-up but valid form data.

Used by the engine benchmark and the engine's seven-step tests. Form data is generated
from each task's JSON Schema; ``choices`` override fields by name (e.g. the consultation
outcome per round). Service tasks are answered with explicit results per topic, as an
external worker would.
"""
from itertools import count


def fill(schema, choices, path=""):
    """Valid data for ``schema``; a field named in ``choices`` takes that value (callables are called)."""
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        data = {}
        for name, prop in schema.get("properties", {}).items():
            if name in choices:
                value = choices[name]
                data[name] = value() if callable(value) else value
            elif prop.get("x-widget") != "file":
                data[name] = fill(prop, choices, name)
        return data
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "array":
        return [fill(schema.get("items", {"type": "string"}), choices) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "boolean":
        return True
    if kind in ("number", "integer"):
        low, high = schema.get("minimum", 1), schema.get("maximum", 1000)
        return max(low, 1) if kind == "integer" else float(max(low, high))
    if schema.get("format") == "date":
        return "2026-03-01"
    return "已填写 " + (path or "text")


def service_result(topic, variables, vote_passes=True):
    """What a worker would answer for ``topic`` (the engine benchmark's stand-in workers)."""
    project = variables.get("project", {})
    if topic == "eligibility_check":
        return {"eligible": True, "reasons": []}
    if topic == "vote_roster":
        return {"voters": list(variables.get("bench_voters", ["rep0", "rep1", "rep2"])), "recused": [], "members": 3}
    if topic == "vote_tally":
        return {"valid": True, "passed": vote_passes, "present": 3, "members": 3, "yes": 3 if vote_passes else 0,
                "no": 0 if vote_passes else 3, "abstain": 0}
    if topic == "acceptance_decision":
        return {"accepted": True, "mean_score": 90}
    if topic == "agreement_verify":
        return {"valid": True, "intact": True}
    if topic == "panel_check":
        return {"valid": True, "problems": []}
    return {"ok": True, "topic": topic, "organization_id": project.get("organization_id")}


def default_choices(panel=("panel0", "panel1", "panel2"), rounds=0, failed_votes=0):
    """Choices for a whole lifecycle: ``rounds`` revision rounds, then the vote passes."""
    consultation = count()
    progress = count()
    return {
        "consultation_outcome": lambda: "revise" if next(consultation) < rounds else "mature",
        "town_qualification_decision": "approve",
        "town_application_decision": "approve",
        "failed_vote_decision": "redo",
        "purchase_buy": True,
        "purchase_amount": 40000.0,
        "delivery_finished": lambda: next(progress) >= 1,
        "panel_members": list(panel),
        "panel_member_categories": [{"username": name, "category": "expert"} for name in panel],
        "ballot": "yes",
        "panel_score": 88,
    }
