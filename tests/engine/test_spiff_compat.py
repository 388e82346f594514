"""The SpiffWorkflow internals Sanshe relies on are still where the pinned version has them.

Each test fails when an upgrade moves or changes one of them (see engine/core/spiff_compat.py).
"""
import gc
import hashlib
import inspect
import json
import weakref
from datetime import datetime, timedelta, timezone

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from engine.core import spiff, spiff_compat

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait" name="Wait a week">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P7D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="merge" />
    <bpmn:exclusiveGateway id="merge"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>back</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f3" sourceRef="merge" targetRef="count" />
    <bpmn:scriptTask id="count"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>n = n + 1 if "n" in dir() else 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="count" targetRef="again" />
    <bpmn:exclusiveGateway id="again" default="done"><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>back</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="back" sourceRef="again" targetRef="merge">
      <bpmn:conditionExpression>n &lt; rounds</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="again" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>done</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def started(rounds):
    _, spec, subprocess_specs = spiff.parse_process(BPMN, validate=False)
    workflow = spiff.new_workflow(spec, subprocess_specs, None, {"rounds": rounds})
    workflow.do_engine_steps()
    return workflow


def test_pinned_version_is_the_one_whose_internals_are_used():
    assert spiff_compat.installed_version().startswith(spiff_compat.TESTED_VERSION + ".")


def run_loop(rounds):
    workflow = started(rounds)
    (timer,) = spiff.open_tasks(workflow)[2]
    spiff.force_timer(timer)
    workflow.do_engine_steps()
    return workflow


def test_the_library_iterators_take_the_lifted_depth_bound():
    assert spiff_compat.tree_depth_limit() == spiff_compat.MAX_TREE_DEPTH
    # A tight bound must stop the library's own walks (about 3 tree levels a round), or the
    # library no longer reads the default this module sets.
    spiff_compat.lift_tree_depth(30)
    try:
        stopped = run_loop(rounds=40)
    finally:
        spiff_compat.lift_tree_depth()
    assert max(task.data.get("n", 0) for task in stopped.tasks.values()) < 40
    finished = run_loop(rounds=40)
    assert finished.is_completed() and finished.last_task.data["n"] == 40


def test_a_waiting_timer_reads_and_takes_its_due_time():
    workflow = started(rounds=1)
    (timer,) = spiff.open_tasks(workflow)[2]
    due = spiff.timer_due(timer)
    expected = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=7)
    assert abs(due - expected) < timedelta(minutes=1)
    spiff_compat.set_timer_value(timer, "2031-05-06T07:08:09+00:00")
    assert spiff.timer_due(timer) == datetime(2031, 5, 6, 7, 8, 9)
    spiff.force_timer(timer)
    assert timer.state != TaskState.WAITING


def test_the_library_keeps_a_timers_due_time_under_the_key_spiff_compat_uses():
    """No public setter exists for a timer's due time: spiff_compat writes the library's own
    key, which must be the one the library's timers read and report."""
    workflow = started(rounds=1)
    (timer,) = spiff.open_tasks(workflow)[2]
    stored = timer.internal_data[spiff_compat.TIMER_KEY]
    assert spiff_compat.timer_value(timer) == stored == timer.task_spec.event_definition.details(timer).value
    spiff_compat.set_timer_value(timer, "2000-01-01T00:00:00+00:00")
    assert timer.task_spec.event_definition.details(timer).value == "2000-01-01T00:00:00+00:00"
    workflow.refresh_timers()
    assert timer.state != TaskState.WAITING
# The library's code that TaskRestorer repeats, as pinned: an upgrade that changes how a
# task is read back changes this fingerprint, and TaskRestorer must be read again.
TASK_READING_FINGERPRINT = "80f92e3999c63b09ae40189be41c7e09279153a711baa98ec1b8988abed2c2cc"


def test_the_library_reads_a_task_back_as_the_task_restorer_repeats_it():
    source = inspect.getsource(TaskConverter.from_dict) + inspect.getsource(DeepMerge.merge)
    assert hashlib.sha256(source.encode()).hexdigest() == TASK_READING_FINGERPRINT


def tasks_read_back(config, document):
    registry = BpmnWorkflowSerializer.configure(config)
    workflow = BpmnWorkflowSerializer(registry).from_dict(json.loads(document))
    return {task.id: (task.parent and task.parent.id, [child.id for child in task.children], task.state,
                      task.task_spec.name, task.triggered, task.last_state_change, task.internal_data, task.data)
            for task in workflow.get_tasks()}


def test_the_task_restorer_reads_every_task_back_as_the_library_does():
    workflow = started(rounds=3)
    workflow.data["kept"] = True
    for task in workflow.get_tasks():
        task.data.update(when=datetime(2027, 1, 2, 3, 4, 5), findings=[{"share": 0.5, "at": [datetime(2027, 1, 3)]}])
    (timer,) = spiff.open_tasks(workflow)[2]
    spiff.force_timer(timer)
    workflow.do_engine_steps()  # the loop runs: tasks stored as differences to their parents
    config = {**SPIFF_CONFIG, spiff.ExternalServiceTask: ServiceTaskConverter}
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
    document = serializer.serialize_json(workflow)
    assert any(task["delta"].get("updates") for task in json.loads(document)["tasks"].values())
    stock = tasks_read_back(config, document)
    ours = tasks_read_back({**config, Task: spiff_compat.TaskRestorer}, document)
    assert ours == stock
    assert [data["when"] for *_, data in ours.values()] == [datetime(2027, 1, 2, 3, 4, 5)] * len(ours)
    assert max(data.get("n", 0) for *_, data in ours.values()) == 3


def test_a_released_workflow_is_freed_at_once_without_the_garbage_collector():
    kept, dropped = started(rounds=3), started(rounds=3)
    assert spiff.open_tasks(dropped)[2]  # a waiting timer: the event manager holds a task too
    kept_ref, dropped_ref = weakref.ref(kept), weakref.ref(dropped)
    task_refs = [weakref.ref(task) for task in dropped.tasks.values()]
    gc.disable()
    try:
        spiff.release_workflow(dropped)
        del kept, dropped
        assert kept_ref() is not None  # its tasks and it refer to each other: only a collection frees it
        assert dropped_ref() is None
        assert [ref() for ref in task_refs] == [None] * len(task_refs)
    finally:
        gc.enable()
