"""Storing SpiffWorkflow workflows: state without the spec, finished tasks stored once.

Part of the SpiffWorkflow seam with :mod:`engine.core.spiff`; nothing outside ``engine/`` uses it
directly (the runtime does).
"""
import json
import re

import orjson
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, cast
from uuid import UUID
from weakref import WeakKeyDictionary

# SpiffWorkflow ships no type stubs (reportMissingTypeStubs); create_encoder and SPIFF_CONFIG
# have no hints (reportUnknownVariableType): the config is cast where it is read, the
# encoder factory returns a typed class.
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.task import Task  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.util.task import TaskState  # pyright: ignore[reportMissingTypeStubs]

from engine.core.spiff import ExternalServiceTask, Workflow
from engine.core.spiff_compat import TaskRestorer, uuid_of


class _Registry(Protocol):
    """What is used of the serializer's converter registry (a ``DefaultRegistry``; the library
    has no type hints)."""

    typenames: dict[type, str]

    def convert(self, obj: Any, /) -> Any: ...
    def restore(self, val: Any, /) -> Any: ...
    def clean(self, obj: Any, /) -> Any: ...


class _Serializer(Protocol):
    """``BpmnWorkflowSerializer``'s registry builder (a static method without type hints)."""

    @staticmethod
    def configure(config: dict[type, type] | None = None, registry: _Registry | None = None, /) -> _Registry: ...


_SERIALIZER: _Serializer = BpmnWorkflowSerializer


class _StateOnlyConverter(BpmnWorkflowConverter):
    """Stores a workflow's state without its spec; the spec is re-attached from the cache."""

    # What is used of the base's attributes and helpers, typed (the library has no hints);
    # declarations only, the values are the base's.
    registry: _Registry
    target_class: Any  # BpmnWorkflow
    mapping_to_dict: Callable[..., dict[str, Any]]  # (mapping)
    mapping_from_dict: Callable[..., dict[Any, Any]]  # (mapping, key_class, **attributes)
    set_default_attributes: Callable[..., None]  # (workflow, dct)
    subprocesses_from_dict: Callable[..., None]  # (dct, workflow)

    def to_dict(self, workflow: Any, tasks_of: Callable[[Any], dict[str, Any]] | None = None) -> dict[str, Any]:
        dct = self._base(workflow, tasks_of)
        dct["subprocesses"] = {}
        for task_id, subprocess in workflow.subprocesses.items():
            sub = self._base(subprocess, tasks_of)
            sub["parent_task_id"] = str(subprocess.parent_task_id)
            sub["spec"] = subprocess.spec.name
            sub["typename"] = self.registry.typenames[subprocess.__class__]
            dct["subprocesses"][str(task_id)] = sub
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def _base(self, workflow: Any, tasks_of: Callable[[Any], dict[str, Any]] | None) -> dict[str, Any]:
        return {
            "data": self.registry.convert(self.registry.clean(workflow.data)),
            "correlations": workflow.correlations,
            "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": tasks_of(workflow) if tasks_of else self.mapping_to_dict(workflow.tasks),
            "root": str(workflow.task_tree.id),
        }

    def restore(self, dct: dict[str, Any], spec: Any, subprocess_specs: dict[str, Any],
                events_registry: _Registry | None = None) -> Any:
        """A ``BpmnWorkflow`` (typed loosely: the library declares none of what is set here);
        its pending BPMN events are read with ``events_registry`` (default: this converter's)."""
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        sub: dict[str, Any]
        for sub in dct["subprocesses"].values():
            sub["tasks"] = _parents_first(sub["tasks"])
        workflow.tasks = self.mapping_from_dict(_parents_first(dct["tasks"]), uuid_of, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(uuid_of(dct["root"]))  # set as the library's own converter does
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = (events_registry or self.registry).restore(dct.pop("bpmn_events", []))
        return workflow


_PLAIN = frozenset({str, int, float, bool, type(None)})


class _DecodedRegistry(DefaultRegistry):
    """The library's registry, restoring from freshly decoded JSON that nothing else holds.

    The stock ``restore`` copies every dict and list of the stored data while looking for
    typed values (dates, UUIDs, event definitions): thousands of containers per load, and
    copying them (then collecting the copies) was a quarter of a load's time on the
    seven-step diagram. Here the containers that hold no typed value are kept as decoded
    and only the typed values are replaced, in place; what is restored is the same. Only
    :meth:`StateStore.loads` uses it, on documents it has just decoded (the library's own
    loader consumes its input too, popping what it has read).
    """

    def restore(self, val: Any, **kwargs: Any) -> Any:
        kind = val.__class__
        if kind is dict and "typename" not in val:
            for key, item in val.items():
                if type(item) not in _PLAIN:
                    val[key] = self.restore(item, **kwargs)
            return val
        if kind is list:
            for index, item in enumerate(val):
                if type(item) not in _PLAIN:
                    val[index] = self.restore(item, **kwargs)
            return val
        return super().restore(val, **kwargs)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType] (the library's restore has no hints)


class _PlainRegistry(_DecodedRegistry):
    """The registry for documents whose only typed values are tasks and subworkflows (most
    of them: forms write plain JSON values). Then no container below a task holds a typed
    value, and the decoded data, its differences and the internal data are used as they
    are instead of being walked: on the seven-step diagram that walk visited about 650
    containers per load. :func:`_only_structure` decides which registry reads a document.
    """

    def restore(self, val: Any, **kwargs: Any) -> Any:
        kind = val.__class__
        if (kind is dict and "typename" not in val) or kind is list:
            return val
        return super().restore(val, **kwargs)


# Typed values are dicts with a ``typename`` key; in the encoder's compact output each
# one's key reads exactly so (inside a string, quotes are escaped and never match).
_OTHER_TYPED = re.compile(r'"typename":"(?!Task"|BpmnSubWorkflow")')
_EVENTS = '"bpmn_events":'
# The key a stored document starts with when :func:`_marked` found it plain.
_PLAIN_MARK = "~plain"


def _marked(text: str, events_last: bool = False) -> str:
    """A stored document (a JSON object), marked as plain when it holds no typed value other
    than tasks and subworkflows (with ``events_last``, the state's pending BPMN events, its
    last key, are left out: they are always read by the walking registry). Checked once
    when the document is written, read at every load: scanning the text costs about as much
    as the walk it saves."""
    end = text.rfind(_EVENTS) if events_last else -1
    if _OTHER_TYPED.search(text, 0, end if end >= 0 else len(text)):
        return text
    return '{"' + _PLAIN_MARK + '":1,' + text[1:]


def _parents_first(tasks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stored tasks in their stored order, except that a parent comes before its
    children: the library rebuilds a task's data from its parent's, which must be loaded."""
    ordered: dict[str, dict[str, Any]] = {}
    chain: list[str]
    current: str | None
    for task_id in tasks:
        chain, current = [], task_id
        while current is not None and current not in ordered and current in tasks:
            chain.append(current)
            current = tasks[current]["parent"]
        for ancestor in reversed(chain):
            ordered[ancestor] = tasks[ancestor]
    return ordered


class Saved(NamedTuple):
    """What :meth:`StateStore.save` gives: the open state, the newly finished tasks (JSON or
    None), and whether the stored parts must be replaced by this one part."""

    state: str
    part: str | None
    rewrite: bool

# A finished task as last stored: ((state, last state change), its dict or None when only
# read back, the parent its data is stored as a difference to, or None).
_Cached = tuple[tuple[Any, Any], "dict[str, Any] | None", "UUID | None"]


@dataclass
class _Stored:
    """What a store remembers of one workflow between saves (kept beside the workflow,
    never on it): how many parts are stored, and per (sub)workflow key (``""`` for the top,
    else the subprocess's task id) which finished tasks the parts hold and their dicts."""

    parts: int = 0
    frozen: dict[str, set[UUID]] = field(default_factory=lambda: {})
    tasks: dict[str, dict[UUID, _Cached]] = field(default_factory=lambda: {})


class StateStore:
    """Turns a workflow into JSON (state only, the spec is re-attached on load) and back.

    :meth:`dumps` gives the whole state in one document. :meth:`save` splits it the way the
    runtime stores it: a finished task never changes again, so each save writes only the
    tasks that finished since the last one (a *part*, appended beside the instance) and the
    open rest (the instance's row). A long-running instance then costs per step what its
    open tasks cost, not what its history costs. Every ``compact_every`` saves, or when a
    finished task did change after all (an administrator's reset), the parts are folded
    into one again (``rewrite``). Sixteen: a load then decodes a few tens of kilobytes
    (each part after a fold stores its first task's data whole), while a 1,000-round loop
    does not pay a fold of its whole tree every few steps (measured: 8 made its steps at
    round 1,000 about 40% dearer; 64 made a load decode 177 KB on the seven-step diagram).

    Everything goes through SpiffWorkflow's public serializer: the registry converts
    workflows and tasks to dicts, the library's JSON encoder writes them.
    """

    def __init__(self, compact_every: int = 16) -> None:
        config = dict(cast(dict[type, type], SPIFF_CONFIG))
        config[ExternalServiceTask] = ServiceTaskConverter
        config[Task] = TaskRestorer
        self.registry = _SERIALIZER.configure(config)
        self.serializer = BpmnWorkflowSerializer(self.registry)
        self.version = self.serializer.VERSION
        self.converter = _StateOnlyConverter(BpmnWorkflow, self.registry)
        self._loader = _StateOnlyConverter(BpmnWorkflow, _SERIALIZER.configure(config, _DecodedRegistry()))
        self._plain_loader = _StateOnlyConverter(BpmnWorkflow, _SERIALIZER.configure(config, _PlainRegistry()))
        self._encoder = create_encoder(self.registry)
        self.compact_every = compact_every
        self._stored: WeakKeyDictionary[Workflow, _Stored] = WeakKeyDictionary()

    def dumps(self, workflow: Workflow) -> str:
        """The workflow's whole state as one JSON document."""
        memory = self._memory(workflow)
        return self._encode(self._document(workflow, lambda key, wf: self._tasks(wf, memory, key, None, None)))

    def save(self, workflow: Workflow, rewrite: bool = False) -> Saved:
        """``Saved(state, part, rewrite)``: the open state, the newly finished tasks (JSON or
        None), and whether the stored parts must be replaced by this one part."""
        memory = self._memory(workflow)
        rewrite = rewrite or memory.parts >= self.compact_every
        frozen: dict[str, set[UUID]] = {} if rewrite else memory.frozen
        part: dict[str, dict[str, Any]] = {}

        def tasks_of(key: str, wf: Any) -> dict[str, Any]:
            return self._tasks(wf, memory, key, frozen.setdefault(key, set()), part.setdefault(key, {}))

        try:
            state = _marked(self._encode(self._document(workflow, tasks_of)), events_last=True)
        except _FinishedTaskChanged:
            return self.save(workflow, rewrite=True)
        keys = set(frozen) & ({""} | {str(k) for k in workflow.subprocesses})
        memory.frozen = {key: frozen[key] for key in keys}  # subprocesses gone are not looked at again
        body = {key: tasks for key, tasks in part.items() if tasks}
        text = _marked(self._encode(body)) if body else None
        memory.parts = (0 if rewrite else memory.parts) + (1 if text else 0)
        return Saved(state, text, rewrite)

    def _memory(self, workflow: Workflow) -> _Stored:
        memory = self._stored.get(workflow)
        if memory is None:
            memory = self._stored[workflow] = _Stored()
        return memory

    def _encode(self, dct: dict[str, Any]) -> str:
        return json.dumps(dct, cls=self._encoder, separators=(",", ":"))

    def _document(self, workflow: Workflow, tasks_of: Callable[[str, Any], dict[str, Any]]) -> dict[str, Any]:
        """The workflow's state as a dict, each (sub)workflow's tasks given by ``tasks_of``."""
        keys = {id(sub): str(task_id) for task_id, sub in workflow.subprocesses.items()}
        return self.converter.to_dict(workflow, lambda wf: tasks_of(keys.get(id(wf), ""), wf))

    def _tasks(self, workflow: Any, memory: _Stored, key: str, frozen: set[UUID] | None,
               part: dict[str, Any] | None) -> dict[str, Any]:
        """The dicts of a (sub)workflow's tasks, by task id.

        With ``frozen`` (ids already stored in parts) and ``part`` (collecting the newly
        finished tasks), finished tasks move to ``part`` and are left out of the result. A
        finished task's dict is remembered: it never changes again.

        The library stores a task's data as its difference to its parent's. That is only
        kept when the parent's data is stored from the same moment: the parent was written
        in this same pass (and, for a finished task, has finished too). Otherwise the whole
        data is stored. The library copies data only one level deep, so a script that
        changes a nested value also changes that value in tasks stored long ago, and a
        difference taken against the parent as it is now would be read back against the
        parent as it was stored.
        """
        cache = memory.tasks.setdefault(key, {})
        out: dict[str, Any] = {}
        seen = 0
        fresh: set[UUID] = set()  # written in this pass
        reused: set[UUID] = set()  # written as in an earlier pass
        finished = TaskState.FINISHED_MASK
        for task_id, task in workflow.tasks.items():
            stamp = (task.state, task.last_state_change)
            cached = cache.get(task_id)
            if frozen is not None and task_id in frozen:
                if cached is None or cached[0] != stamp:
                    raise _FinishedTaskChanged(task_id)
                seen += 1
                reused.add(task_id)
                continue
            if cached is not None and cached[0] == stamp and cached[1] is not None \
                    and (cached[2] is None or cached[2] in reused):
                dct = cached[1]
                reused.add(task_id)
            else:
                dct = cast(dict[str, Any], self.registry.convert(task))
                parent, delta_parent = task.parent, None
                if dct["delta"]:
                    if parent.id in fresh and (not task.state & finished or parent.state & finished):
                        delta_parent = parent.id
                    else:
                        dct["data"], dct["delta"] = self.registry.convert(task.data), {}
                fresh.add(task_id)
                if task.state & finished:
                    cache[task_id] = (stamp, dct, delta_parent)
            if frozen is not None and part is not None and task.state & finished:
                part[str(task_id)] = dct
                frozen.add(task_id)
                seen += 1
            else:
                out[str(task_id)] = dct
        if frozen is not None and seen != len(frozen):
            raise _FinishedTaskChanged("a stored task is gone")
        return out

    def loads(self, state: str, parts: Sequence[str], spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
        """The workflow from its stored state and parts (oldest part first)."""
        dct = _decode(state)
        plain = dct.pop(_PLAIN_MARK, None) is not None
        memory = _Stored()
        merged: dict[str, dict[str, Any]] = {}
        for body in parts:
            memory.parts += 1
            decoded = _decode(body)
            plain = decoded.pop(_PLAIN_MARK, None) is not None and plain
            for key, tasks in decoded.items():
                merged.setdefault(key, {}).update(tasks)
        stored_ids: dict[str, set[str]] = {}
        for key, tasks in merged.items():
            target = dct if key == "" else dct["subprocesses"].get(key)
            if target is not None:
                stored_ids[key] = set(tasks)
                tasks.update(target["tasks"])
                target["tasks"] = tasks
        if plain:
            workflow = self._plain_loader.restore(dct, spec, subprocess_specs, self._loader.registry)
        else:
            workflow = self._loader.restore(dct, spec, subprocess_specs)
        by_key = {"": workflow, **{str(k): sub for k, sub in workflow.subprocesses.items()}}
        for key, ids in stored_ids.items():
            wf = by_key.get(key)
            if wf is None:
                continue
            cache = memory.tasks.setdefault(key, {})
            uuids: set[UUID] = set()
            for task_id in ids:
                task = wf.tasks[uuid_of(task_id)]
                cache[task.id] = ((task.state, task.last_state_change), None, None)
                uuids.add(task.id)
            memory.frozen[key] = uuids
        self._stored[workflow] = memory
        return workflow

    def relinked(self, workflow: Workflow, tasks: Sequence[Any]) -> None:
        """``tasks`` have a new parent or a new child (finished runs were cut out of the tree):
        what is remembered of them is out of date, and the next save stores the state anew."""
        memory = self._stored.get(workflow)
        if memory is None:
            return
        keys = {id(sub): str(task_id) for task_id, sub in workflow.subprocesses.items()}
        for task in tasks:
            memory.tasks.get(keys.get(id(task.workflow), ""), {}).pop(task.id, None)

    def forget(self, workflow: Workflow) -> None:
        """Drop what is remembered of stored tasks (after a migration changed them): the next
        save stores everything anew."""
        self._stored[workflow] = _Stored(parts=self.compact_every)


def _decode(text: str) -> Any:
    """A stored JSON document decoded: orjson reads the same values as the standard
    library about three times faster (most of a load from the database is decoding). The
    standard library's extensions that orjson refuses (``NaN``, ``Infinity``, which the
    encoder writes for such floats in task data) fall back to it."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class _FinishedTaskChanged(Exception):
    """A task stored as finished is no longer what was stored: store everything anew."""
