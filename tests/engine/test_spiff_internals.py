"""What Sanshe relies on inside SpiffWorkflow beyond its public API (engine/core/spiff_compat.py),
for cutting finished loop runs out of the task tree and moving a timer to now. These fail
when the library changes in a way that would break the engine (the version itself is
checked in test_spiff_compat.py)."""
from SpiffWorkflow.task import Task

from engine.method.driver import default_choices
from engine.core import spiff, spiff_compat
from tests.engine import seven_step_memory
from tests.engine.timer_diagrams import diagram


def test_a_task_links_parent_and_children_by_id_in_the_workflows_task_map():
    _, spec, subprocesses = spiff.parse_process(diagram("intermediate", "timeDuration", "P1D"))
    workflow = spiff.new_workflow(spec, subprocesses, None, {})
    task = next(t for t in workflow.tasks.values() if t.parent is not None)
    assert task._parent == task.parent.id and task.id in task.parent._children
    assert workflow.tasks[task.id] is task
    assert Task.is_descendant_of(task, workflow.task_tree)


def test_a_cycle_keeps_count_next_and_interval_in_its_event_value():
    _, spec, subprocesses = spiff.parse_process(diagram("intermediate", "timeCycle", "R2/PT1H"))
    workflow = spiff.new_workflow(spec, subprocesses, None, {})
    workflow.do_engine_steps()
    (timer,) = spiff.open_tasks(workflow)[2]
    assert set(spiff_compat.timer_value(timer)) == {"cycles", "next", "duration"}
    spiff.force_timer(timer)
    assert spiff_compat.timer_value(timer)["cycles"] == 1


def run_rounds(rounds, prune):
    workflow, _spec, _subprocesses, forms = seven_step_memory.start()
    choices = default_choices(rounds=rounds)
    sizes = []
    while not workflow.is_completed():
        human, services, timers = spiff.open_tasks(workflow)
        # The quick look at each task's state finds what the walk over the tree finds.
        assert spiff.open_task_sets(workflow) == (set(human), set(services), set(timers))
        task = seven_step_memory.complete_next(human, services, forms, choices)
        if task is not None and task.task_spec.bpmn_id == "revise_application":
            sizes.append(len(workflow.tasks))
        workflow.do_engine_steps()
        if prune:
            spiff.prune_finished_runs(workflow)
    return workflow, sizes


def test_cutting_finished_runs_keeps_the_tree_small_and_the_process_right():
    pruned, sizes = run_rounds(300, prune=True)
    assert max(sizes) < 200 and max(sizes[-50:]) <= max(sizes[:50]) + 10
    assert pruned.is_completed() and "验收通过 (Accepted)" in spiff.reached_end_events(pruned)
    # Every task left still reaches the root through its ancestors.
    assert all(t is pruned.task_tree or t.is_descendant_of(pruned.task_tree) for t in pruned.tasks.values())
    whole, _ = run_rounds(30, prune=False)
    cut, _ = run_rounds(30, prune=True)
    assert spiff.current_data(cut) == spiff.current_data(whole)
