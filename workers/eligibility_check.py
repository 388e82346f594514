"""Topic ``eligibility_check`` (step 1): may the applying organization take the catalog item?

Params: ``organization_ids`` (optional; default: every organization of the item's town).
Result: ``eligible`` (the applicant), its ``reasons``, and every screened organization.
"""
from engine import eligibility
from engine.errors import ValidationError


def handle(job):
    project = job.project
    item_id = job.params.get("catalog_item_id") or project.get("catalog_item_id")
    if item_id is None:
        raise ValidationError("The project names no catalog item.", errors={"catalog_item_id": ["required"]})
    screening = eligibility.screen(job.session, item_id, job.params.get("organization_ids"),
                                   exclude_instance_id=job.instance_id)
    applicant = project.get("organization_id")
    row = next((r for r in screening["organizations"] if r["id"] == applicant), None)
    if row is None and applicant is not None:
        row = eligibility.screen(job.session, item_id, [applicant], exclude_instance_id=job.instance_id)["organizations"][0]
    return {**screening, "eligible": bool(row and row["eligible"]), "reasons": row["reasons"] if row else []}
