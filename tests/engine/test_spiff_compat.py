"""The SpiffWorkflow internals Sanshe relies on are still where the pinned version has them.

Each test fails when an upgrade moves or changes one of them (see engine/core/spiff_compat.py).
"""
from datetime import datetime, timedelta, timezone

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
