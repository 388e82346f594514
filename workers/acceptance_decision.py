"""Topic ``acceptance_decision`` (step 7): accept the project from the panel's scores.

Params: ``pass_score`` (required: the threshold is the diagram's, not the code's),
``scores`` (default task data ``scores``), ``members`` (only their scores count).
"""
from engine.method import evaluation
from engine.errors import ValidationError


def handle(job):
    params = job.params
    if params.get("pass_score") is None:
        raise ValidationError("The diagram must set pass_score.", errors={"pass_score": ["required"]})
    scores = params.get("scores", job.variables.get("scores", []))
    return evaluation.record_acceptance(job.session, job.job_id, job.instance_id, scores, params["pass_score"],
                                        params.get("members"), job.now)
