"""Topic ``notify``: an in-app message to people or to a role in the instance's scope.

Params: ``message``; ``to`` (usernames) and/or ``role`` (e.g. ``community_committee``).
"""
from engine.core import notifications
from engine.core.access import scope_for
from engine.errors import ValidationError


def handle(job):
    params, project = job.params, job.project
    if not params.get("message"):
        raise ValidationError("A notification needs a message.", errors={"message": ["required"]})
    people = list(params.get("to") or [])
    if params.get("role"):
        scope_type, scope_id = scope_for(params["role"], project.get("town_id"), project.get("community_id"),
                                         project.get("organization_id"))
        people += notifications.recipients(job.session, params["role"], scope_type, scope_id)
    sent = notifications.notify(job.session, people, str(params["message"]), job_id=job.job_id, now=job.now)
    return {"sent": len(sent)}
