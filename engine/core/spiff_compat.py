"""The one place that reaches into SpiffWorkflow's internals, for what its public API lacks.

Everything else in Sanshe uses SpiffWorkflow's public API (parser, workflow, task,
serializer and converter extension points). What is here depends on how the pinned
version (``TESTED_VERSION``, pinned in ``pyproject.toml``) is built inside;
``tests/engine/test_spiff_compat.py`` checks each piece against the installed library and
fails when an upgrade moves it, so that an upgrade is a decision, not a surprise.
"""
from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import Any

from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator

#: The SpiffWorkflow minor version these internals were read from.
TESTED_VERSION = "3.2"

# A revise-and-resubmit loop makes the task tree one level deeper per pass; the library's
# iterators stop at depth 1000 and then silently report the workflow as finished. Unlimited
# revision rounds are part of the method, so the bound is lifted (the iterators are not
# recursive, the depth only costs a counter).
MAX_TREE_DEPTH = 10_000_000
_ITERATORS = (TaskIterator, BpmnTaskIterator)


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
        init: Any = iterator.__init__
        names = [p.name for p in inspect.signature(init).parameters.values()
                 if p.default is not inspect.Parameter.empty]
        defaults = list(init.__defaults__)
        defaults[names.index("max_depth")] = limit
        init.__defaults__ = tuple(defaults)


def tree_depth_limit() -> int:
    """The ``max_depth`` the library's iterators use now."""
    return inspect.signature(TaskIterator.__init__).parameters["max_depth"].default


def set_timer_value(task: Any, value: str | dict) -> None:
    """Set a waiting timer's due moment (ISO 8601) as its event definition reads it.

    A timer event keeps its evaluated due time in the task's internal data under
    ``event_value``; the library has no public setter for it. A cycle keeps a dict there:
    ``{"cycles": runs left (-1 unbounded), "next": ISO 8601, "duration": seconds}``.
    """
    task._set_internal_data(event_value=value)


def timer_value(task: Any) -> str | dict | None:
    """A waiting timer's stored ``event_value`` (see :func:`set_timer_value`); the public
    ``details()`` gives a cycle's next time only, not its count and interval."""
    return task._get_internal_data("event_value")


lift_tree_depth()
