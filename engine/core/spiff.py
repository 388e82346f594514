"""Everything that touches SpiffWorkflow directly: parsing, service tasks, state storage.

Nothing outside ``engine/`` imports SpiffWorkflow; this module is the seam (with
:mod:`engine.core.spiff_state`, which stores workflows).
"""
import json
from collections import namedtuple
from datetime import timezone
from io import BytesIO
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException  # noqa: F401 (for validation)
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment  # noqa: F401 (for scripting)
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
# The parser builds spiff event definitions; a thrown event must be of the same class to be caught.
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition, MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import diff_workflow
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser, VALIDATOR
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.util.task import TaskState

from engine.core import spiff_compat


class ExternalServiceTask(ServiceTask):
    """A service task whose work is done by an external worker.

    Running it records nothing and returns ``None``, which leaves the task STARTED; the
    engine turns every STARTED service task into a job, and completes the task with the
    job's result.
    """

    def _execute(self, task):
        return None

    @property
    def topic(self):
        return self.operation_name


class SanshePythonParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, ExternalServiceTask),
    }


def make_parser(validate=True):
    return SanshePythonParser(validator=VALIDATOR if validate else None)


def parse_process(bpmn_xml, filename="diagram.bpmn", process_id=None, validate=True):
    """Parse one BPMN document; returns ``(process_id, spec, subprocess_specs)``.

    ``process_id`` defaults to the first executable process in the file.
    Raises lxml's ``XMLSyntaxError`` or SpiffWorkflow's ``ValidationException``.
    """
    parser = make_parser(validate)
    data = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
    tree = etree.parse(BytesIO(data))
    parser.add_bpmn_xml(tree, filename=filename)
    if process_id is None:
        process_id = executable_process_ids(tree)[0]
    spec, subprocess_specs = parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    connect_multi_instance(spec, subprocess_specs)
    return process_id, spec, subprocess_specs


def connect_multi_instance(spec, subprocess_specs):
    """Let every multi-instance task hear its instances finish.

    The library connects a multi-instance task to its child spec's ``completed_event``
    only when it creates the first instance, on the spec object in memory. A workflow
    loaded onto a freshly parsed spec (after a restart, or moved to a new version) with
    instances already running would never collect them; connecting at parse time covers
    both.
    """
    for process in (spec, *subprocess_specs.values()):
        for task_spec in process.task_specs.values():
            if isinstance(task_spec, LoopTask):
                loop: Any = task_spec  # a LoopTask mixed into a task spec: task_spec and merge_child are its own
                child = process.task_specs[loop.task_spec]
                if not child.completed_event.is_connected(loop.merge_child):
                    child.completed_event.connect(loop.merge_child)


def executable_process_ids(tree):
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    ids = [p.get("id") for p in tree.getroot().findall("bpmn:process", ns) if p.get("isExecutable", "true") == "true"]
    return ids or [p.get("id") for p in tree.getroot().findall("bpmn:process", ns)]


# --- task inspection used by the runtime ------------------------------------------------

def task_label(task):
    """What people call a task: its name in the diagram, else its element id."""
    return task.task_spec.bpmn_name or task.task_spec.bpmn_id


def task_properties(task):
    """The spiffworkflow:properties of a task's spec (multi-instance children inherit)."""
    spec = task.task_spec
    props = getattr(spec, "extensions", {}).get("properties")
    if props is None and task.parent is not None and getattr(task.parent.task_spec, "bpmn_id", None) == spec.bpmn_id:
        props = getattr(task.parent.task_spec, "extensions", {}).get("properties")
    return props or {}


def open_tasks(workflow):
    """``(human, services, timers)``: READY manual tasks, STARTED external service tasks and
    WAITING timer events, found in one pass over the task tree."""
    human, services, timers = [], [], []
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED | TaskState.WAITING):
        spec = task.task_spec
        if task.state == TaskState.READY and spec.manual:
            human.append(task)
        elif task.state == TaskState.STARTED and isinstance(spec, ExternalServiceTask):
            services.append(task)
        elif task.state == TaskState.WAITING and isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
            timers.append(task)
    return human, services, timers


def timer_due(task):
    """The UTC due time of a waiting timer (naive), or None for a cycle timer not yet set."""
    value = task.task_spec.event_definition.details(task).value
    if isinstance(value, dict):
        value = value.get("next")
    if not value:
        return None
    return TimerEventDefinition.get_datetime(value).astimezone(timezone.utc).replace(tzinfo=None)


def force_timer(task):
    """Make a waiting timer due now, then let the workflow notice it."""
    spiff_compat.set_timer_value(task, "2000-01-01T00:00:00+00:00")
    task.workflow.top_workflow.refresh_timers()


def is_iso_duration(text):
    """Whether ``text`` is an ISO 8601 duration the library can use (e.g. ``P7D``)."""
    try:
        return text.upper().startswith("P") and bool(TimerEventDefinition.parse_iso_duration(text))
    except Exception:  # the library raises bare Exception for a bad duration
        return False


def duration_from(expression, start):
    """``start`` plus an ISO 8601 duration such as ``P7D`` (None for an empty expression)."""
    if not expression:
        return None
    parsed = TimerEventDefinition.parse_iso_duration(expression.strip().strip("'\""))
    return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)


def service_params(task):
    """``(evaluated, sources)`` of a service task's parameters."""
    spec = task.task_spec
    sources = {name: param["value"] for name, param in spec.operation_params.items()}
    evaluated = {name: param["value"] for name, param in spec.evaluate_params(task).items()}
    return evaluated, sources


def complete_service(task, result):
    task.data[task.task_spec.result_variable] = result
    task.complete()


def run_user_task(task, data):
    task.data.update(data)
    task.run()


def throw_error(workflow, task, code, message):
    """Route a BPMN error raised by ``task``'s worker to the error boundary event.

    Returns False when nothing in the diagram catches it (the task stays STARTED).
    """
    event = BpmnEvent(ErrorEventDefinition(code, code=code), payload={"message": message})
    workflow.catch(event)
    # The boundary event is only READY now; the attached task is cancelled when it runs.
    workflow.do_engine_steps()
    return task.state != TaskState.STARTED


def waiting_message_names(workflow):
    return {event.name for event in workflow.waiting_events() if event.event_type == "MessageEventDefinition"}


def send_message(workflow, name, payload):
    workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload=payload))


def reached_end_events(workflow):
    """Names of the top-level end events completed (the instance's outcome)."""
    return [task_label(task)
            for task in workflow.get_tasks(state=TaskState.COMPLETED)
            if isinstance(task.task_spec, EndEvent) and task.workflow is workflow]


def cancel_workflow(workflow):
    workflow.cancel()


def new_workflow(spec, subprocess_specs, script_engine, data):
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    return workflow


def task_step(task):
    """The Seven-Step Method step (1..7) a task belongs to, from its ``step`` property."""
    value = task_properties(task).get("step")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def json_data(data):
    """A JSON-safe deep copy of task data (dates and other objects become strings)."""
    return json.loads(json.dumps(data, default=str))


def current_data(workflow):
    """The instance's variables now: the finished workflow's last data, or the open tasks' merged."""
    if workflow.is_completed() and workflow.last_task is not None:
        return json_data(workflow.last_task.data)
    merged = {}
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED):
        merged.update(task.data)
    if not merged and workflow.last_task is not None:
        merged = dict(workflow.last_task.data)
    return json_data(merged)


# --- moving a running workflow to another version of its diagram -------------------------

class MigrationDiff:
    """What moving a workflow onto new specs touches, in plain names.

    ``removed``: ``TaskRef`` of tasks that were or are somewhere the new version no longer
    has (predicted tasks left out); ``changed_open``: ``(TaskRef, [attributes])`` of
    waiting or running tasks whose element changed; ``missing_subprocesses``: names of
    subprocesses running now that the new version lacks.
    """

    def __init__(self, registry, workflow, top, subprocesses):
        self.top, self.subprocesses = top, subprocesses
        self.removed, self.changed_open, self.missing_subprocesses = [], [], []
        pairs = [(workflow, top)] + [(workflow.subprocesses[sp_id], d) for sp_id, d in subprocesses.items()]
        for wf, diff in pairs:
            if diff is None:
                self.missing_subprocesses.append(wf.spec.name)
                continue
            for task in diff.removed:
                if not task.state & TaskState.PREDICTED_MASK:
                    self.removed.append(_describe(task))
            for task in diff.changed:
                if task.state & (TaskState.READY | TaskState.STARTED | TaskState.WAITING):
                    old, new = registry.convert(task.task_spec), registry.convert(diff.alignment[task])
                    self.changed_open.append((_describe(task), sorted(k for k, v in old.items() if new.get(k) != v)))


TaskRef = namedtuple("TaskRef", "bpmn_id name state kind")


def _describe(task):
    spec = task.task_spec
    kind = "service" if isinstance(spec, ExternalServiceTask) else "human" if spec.manual else "other"
    return TaskRef(getattr(spec, "bpmn_id", None) or spec.name, getattr(spec, "bpmn_name", None) or spec.name,
                   TaskState.get_name(task.state), kind)


def diff_for_migration(registry, workflow, new_spec, new_subprocess_specs):
    """Compare a running workflow with new specs (``diff_workflow``); changes nothing."""
    top, subprocesses = diff_workflow(registry, workflow, new_spec, new_subprocess_specs)
    return MigrationDiff(registry, workflow, top, subprocesses)


def migrate(workflow, diff, new_spec, new_subprocess_specs):
    """Put ``workflow`` (and its running subprocesses) on the new specs, as
    ``SpiffWorkflow.bpmn.util.diff.migrate_workflow`` does, then let it move on.

    Unlike the library default, only READY tasks are reset (so that their successors are
    predicted from the new diagram): waiting timers keep their due time, and the children of
    a multi-instance task keep their item (a reset would copy the parent's data over it).
    """
    _migrate_one(diff.top, workflow, new_spec)
    for sp_id, sp_diff in diff.subprocesses.items():
        sub = workflow.subprocesses.get(sp_id)
        if sub is not None and sp_diff is not None:
            _migrate_one(sp_diff, sub, new_subprocess_specs[sub.spec.name])
    workflow.subprocess_specs = new_subprocess_specs
    workflow.do_engine_steps()


def _migrate_one(diff, workflow, spec):
    workflow.spec = spec
    for task in workflow.tasks.values():
        if diff.alignment.get(task) is not None:
            task.task_spec = diff.alignment[task]
    for task in list(workflow.get_tasks(state=TaskState.READY, skip_subprocesses=True)):
        if task.id in workflow.tasks and not isinstance(getattr(task.parent, "task_spec", None), LoopTask):
            task.reset_branch(None)
    if workflow.last_task not in workflow.tasks:
        workflow.last_task = None
