"""Topic ``eligibility_check`` (step 1): may the applying organization take the catalog item?

Params: ``organization_ids`` (optional; default: every organization of the item's town).
Result: ``eligible`` (the applicant), its ``reasons``, and every screened organization.
"""
from engine.method import eligibility
from engine.errors import ValidationError


def handle(job):
    project = job.project
    item_id = job.params.get("catalog_item_id") or project.get("catalog_item_id")
    if item_id is None:
        raise ValidationError("The project names no catalog item.", errors={"catalog_item_id": ["required"]})
    return eligibility.screen_applicant(job.session, item_id, project.get("organization_id"),
                                        job.params.get("organization_ids"), exclude_instance_id=job.instance_id)
