"""The seven-step diagram run in memory, without a database: started with a small project
and driven one task at a time, for tests of what SpiffWorkflow keeps in its task tree."""
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow

from engine.core import spiff
from engine.core.deployments import read_bundle
from engine.method.driver import fill, service_result

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
PROJECT = {"title": "t", "organization_id": 1, "social_work": False, "lead": "orgstaff"}


def start() -> tuple[BpmnWorkflow, Any, dict[str, Any], dict[str, Any]]:
    """The seven-step workflow started on ``PROJECT`` and run up to its first wait:
    ``(workflow, spec, subprocess specs, forms)``."""
    bpmn, forms = read_bundle([PROCESSES])
    _, spec, subprocesses = spiff.parse_process(bpmn["seven_step_project.bpmn"])
    workflow = spiff.new_workflow(spec, subprocesses, None, {"project": dict(PROJECT)})
    workflow.do_engine_steps()
    return workflow, spec, subprocesses, forms


def complete_next(human: list[spiff.BpmnTask], services: list[spiff.BpmnTask], forms: dict[str, Any],
                  choices: dict[str, Any]) -> spiff.BpmnTask | None:
    """Complete the first open service task with its handler's result, else the first open
    person's task with data made from its form (``choices`` steer it); returns that
    person's task (None when a service task was completed)."""
    if services:
        spiff.complete_service(services[0], service_result(services[0].task_spec.topic, services[0].data))
        return None
    task = human[0]
    spiff.run_user_task(task, fill(forms[spiff.task_properties(task)["formJsonSchemaFilename"]], choices))
    return task
