"""The one place that reaches into SpiffWorkflow's internals, for what its public API lacks.

Everything else in Sanshe uses SpiffWorkflow's public API (parser, workflow, task,
serializer and converter extension points). What is here depends on how the pinned
version (``TESTED_VERSION``, pinned in ``pyproject.toml``) is built inside;
``tests/engine/test_spiff_compat.py`` checks each piece against the installed library and
fails when an upgrade moves it, so that an upgrade is a decision, not a surprise.
"""
from __future__ import annotations

import inspect
from copy import copy
from functools import lru_cache
from importlib.metadata import version
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.util.task import TaskIterator, TaskState  # pyright: ignore[reportMissingTypeStubs]

#: The SpiffWorkflow minor version these internals were read from.
TESTED_VERSION = "3.2"

# A revise-and-resubmit loop makes the task tree one level deeper per pass; the library's
# iterators stop at depth 1000 and then silently report the workflow as finished. Unlimited
# revision rounds are part of the method, so the bound is lifted (the iterators are not
# recursive, the depth only costs a counter).
MAX_TREE_DEPTH = 10_000_000
_ITERATORS: tuple[Any, ...] = (TaskIterator, BpmnTaskIterator)


def installed_version() -> str:
    """The installed SpiffWorkflow's version string."""
    return version("SpiffWorkflow")


def lift_tree_depth(limit: int = MAX_TREE_DEPTH) -> None:
    """Make every task iterator the library creates walk ``limit`` levels deep.

    The library creates its iterators itself (inside ``do_engine_steps``, ``get_tasks``,
    joins ...) with ``max_depth=1000`` and offers no setting, so the default of the
    constructor's ``max_depth`` parameter is replaced, found by name.
    """
    for iterator in _ITERATORS:
        init = iterator.__init__
        names = [p.name for p in inspect.signature(init).parameters.values()
                 if p.default is not inspect.Parameter.empty]
        defaults = list(init.__defaults__)
        defaults[names.index("max_depth")] = limit
        init.__defaults__ = tuple(defaults)


def tree_depth_limit() -> int:
    """The ``max_depth`` the library's iterators use now."""
    iterator: Any = TaskIterator
    return inspect.signature(iterator.__init__).parameters["max_depth"].default


# Where a waiting timer keeps its evaluated due moment in the task's ``internal_data`` (a
# public attribute of ``SpiffWorkflow.task.Task``): the key is the library's own and
# undocumented. SpiffWorkflow 3.2 offers no public way to set it (moving a timer to now),
# and its public ``details()`` gives a cycle's next time only, not the count and interval a
# cycle must keep; so both the read and the write stay here, and
# tests/engine/test_spiff_compat.py fails when the library stops using this key.
TIMER_KEY = "event_value"


def set_timer_value(task: Any, value: str | dict[str, Any]) -> None:
    """Set a waiting timer's due moment (ISO 8601) as its event definition reads it.

    A cycle keeps a dict there: ``{"cycles": runs left (-1 unbounded), "next": ISO 8601,
    "duration": seconds}``.
    """
    task.internal_data[TIMER_KEY] = value


def timer_value(task: Any) -> str | dict[str, Any] | None:
    """A waiting timer's stored due moment, or a cycle's dict (see :func:`set_timer_value`)."""
    return task.internal_data.get(TIMER_KEY)


# A task links its parent and children by id (``_parent``, ``_children``) through the
# workflow's ``tasks`` map; there is no public way to take a task out of the tree.

def prune_finished_runs(workflow: Any, keep: int, batch: int) -> list[Any]:
    """Cut long runs of finished single-child ancestors out of the workflow's task trees
    (the top workflow and each subprocess). Returns the tasks whose links changed: each
    task given a new parent and the task above it, given a new child.

    Only a task that is finished, has exactly one child, owns no subprocess, is not the
    last task run and is not part of a multi-instance or boundary-event structure is cut;
    its child is attached to its parent, so every remaining task keeps its ancestors in
    order (``is_descendant_of`` answers as before for the tasks that remain).
    """
    relinked: list[Any] = []
    for wf in (workflow, *workflow.subprocesses.values()):
        relinked += _prune_one(workflow, wf, keep, batch)
    return relinked


def _cuttable(top: Any, wf: Any, task: Any) -> bool:
    """Whether ``task`` may leave the tree (see :func:`prune_finished_runs`)."""
    spec = task.task_spec
    parent = task.parent
    return (task.has_state(TaskState.FINISHED_MASK) and len(task._children) == 1 and parent is not None
            and task.id not in top.subprocesses and task is not wf.last_task
            and not isinstance(spec, LoopTask) and not isinstance(parent.task_spec, LoopTask)
            and "Boundary" not in type(spec).__name__ and "Boundary" not in type(parent.task_spec).__name__)


def _prune_one(top: Any, wf: Any, keep: int, batch: int) -> list[Any]:
    """Prune one (sub)workflow's tree, walking up from each of its unfinished tasks."""
    seen: set[Any] = set()
    relinked: list[Any] = []
    live = [t for t in wf.tasks.values() if not t.has_state(TaskState.FINISHED_MASK)]
    for task in live:
        run: list[Any] = []
        node = task.parent
        while node is not None and node.id not in seen and node.id in wf.tasks:
            seen.add(node.id)
            if _cuttable(top, wf, node):
                run.append(node)
            else:
                relinked += _cut(wf, run, keep, batch)
                run = []
            node = node.parent
        relinked += _cut(wf, run, keep, batch)
    return relinked


def _cut(wf: Any, run: list[Any], keep: int, batch: int) -> list[Any]:
    """``run``: consecutive cuttable ancestors, nearest first. Cut all but the nearest ``keep``;
    returns the task given a new parent and its new parent (empty when nothing was cut)."""
    if len(run) < keep + batch:
        return []
    kept, cut = run[keep - 1], run[keep:]
    above = cut[-1].parent
    above._children = [kept.id if child == cut[-1].id else child for child in above._children]
    kept._parent = above.id
    for task in cut:
        del wf.tasks[task.id]
    return [kept, above]


# A workflow and its tasks point at each other (``task.workflow``, ``workflow.tasks``,
# ``task_tree``, ``last_task``, the event manager's waiting tasks, a subprocess's
# ``top_workflow``), so a dropped workflow is freed only by a full garbage collection, which
# walks every live object. A long-running process drops one workflow per cache miss.

def release_workflow(workflow: Any) -> None:
    """Break the reference cycles of a workflow nobody will use again, so that reference
    counting frees it (and its tasks) at once instead of a later full garbage collection.

    Every task, (sub)workflow and event manager of it is emptied: any later use of the
    workflow fails loudly (``AttributeError``) rather than reading a half-emptied tree.
    Measured on the seven-step diagram: about 0.15 ms per workflow; none of its 1,500 objects
    is left for the collector.
    """
    for wf in (*workflow.subprocesses.values(), workflow):
        for task in wf.tasks.values():
            task.__dict__.clear()
        manager = getattr(wf, "event_manager", None)
        if manager is not None:
            manager.__dict__.clear()
        wf.__dict__.clear()


# Reading a task back: the library's ``TaskConverter.from_dict`` sets the links (``_parent``,
# ``_children``) itself.

#: Task ids read back, shared by every load: an id appears as a task's own, as its
#: children's parent and in its parent's children, and making a ``UUID`` from text costs
#: more than looking it up.
uuid_of = lru_cache(maxsize=50_000)(UUID)

_MUTABLE: tuple[type[Any], ...] = (dict, list, set)
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


class TaskRestorer(TaskConverter):  # pyright: ignore[reportUntypedBaseClass]
    """The library's task converter, restoring a task with less work and the same result.

    ``from_dict`` is the pinned version's, step for step, except that ids come from
    :data:`uuid_of`, and a task stored as a difference to its parent copies the parent's
    data in one pass, as ``DeepMerge.merge({}, parent_data)`` would (each value, mutable ones
    copied one level deep). Measured on the seven-step diagram: about a tenth less time per load.
    """

    target_class: Any
    registry: Any

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Any:
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task: Any = self.target_class(workflow, task_spec, state=dct["state"], id=uuid_of(dct["id"]))
        task._parent = uuid_of(dct["parent"]) if dct["parent"] is not None else None
        task._children = [uuid_of(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = self.registry.restore(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent: Any = task.parent
        if delta and parent is not None:
            data: Any = parent.data.copy()
            for key, value in data.items():
                kind = value.__class__
                if kind in _IMMUTABLE:
                    continue
                data[key] = value.copy() if kind in _MUTABLE else copy(value) if isinstance(value, _MUTABLE) else value
            data.update(self.registry.restore(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                if key in data:
                    del data[key]
        else:
            data = self.registry.restore(dct["data"])
        task.data = data
        return task


lift_tree_depth()
