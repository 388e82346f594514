"""Topic ``panel_check`` (step 7): the evaluation panel's composition.

Params: ``panel`` (list of ``{username|name, service_recipient?, organization_id?}`` or
usernames; default task data ``panel``), ``service_recipients`` (usernames who received the
service), ``min_size`` (default 3).
BPMN error ``invalid_panel`` listing every problem.
"""
from engine.method import evaluation


def handle(job):
    panel = job.params.get("panel", job.variables.get("panel", []))
    return evaluation.check_panel(job.session, job.instance_id, panel, job.params.get("min_size", 3),
                                  job.params.get("service_recipients"), now=job.now)
