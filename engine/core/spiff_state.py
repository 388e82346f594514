"""Storing SpiffWorkflow workflows: state without the spec, finished tasks stored once.

Part of the SpiffWorkflow seam with :mod:`engine.core.spiff`; nothing outside ``engine/`` uses it
directly (the runtime does).
"""
import json
from collections import namedtuple
from typing import Any, cast
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.util.task import TaskState

from engine.core.spiff import ExternalServiceTask


class _StateOnlyConverter(BpmnWorkflowConverter):
    """Stores a workflow's state without its spec; the spec is re-attached from the cache."""

    def to_dict(self, workflow, tasks_marker=None):
        dct = self._base(workflow, tasks_marker)
        dct["subprocesses"] = {}
        for task_id, subprocess in workflow.subprocesses.items():
            sub = self._base(subprocess, tasks_marker)
            sub["parent_task_id"] = str(subprocess.parent_task_id)
            sub["spec"] = subprocess.spec.name
            sub["typename"] = self.registry.typenames[subprocess.__class__]
            dct["subprocesses"][str(task_id)] = sub
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def _base(self, workflow, tasks_marker):
        return {
            "data": self.registry.convert(self.registry.clean(workflow.data)),
            "correlations": workflow.correlations,
            "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": tasks_marker(workflow) if tasks_marker else self.mapping_to_dict(workflow.tasks),
            "root": str(workflow.task_tree.id),
        }

    def restore(self, dct, spec, subprocess_specs):
        workflow = BpmnWorkflow(spec, subprocess_specs, deserializing=True)
        for sub in dct["subprocesses"].values():
            sub["tasks"] = _parents_first(sub["tasks"])
        workflow.tasks = self.mapping_from_dict(_parents_first(dct["tasks"]), _uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"]))  # pyright: ignore[reportAttributeAccessIssue] (set as the library's own converter does)
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _uuid(value):
    return UUID(value)


def _parents_first(tasks):
    """The stored tasks in their stored order, except that a parent comes before its
    children: the library rebuilds a task's data from its parent's, which must be loaded."""
    ordered = {}
    for task_id in tasks:
        chain, current = [], task_id
        while current is not None and current not in ordered and current in tasks:
            chain.append(current)
            current = tasks[current]["parent"]
        for ancestor in reversed(chain):
            ordered[ancestor] = tasks[ancestor]
    return ordered


Saved = namedtuple("Saved", "state part rewrite")


class StateStore:
    """Turns a workflow into JSON (state only, the spec is re-attached on load) and back.

    :meth:`dumps` gives the whole state in one document. :meth:`save` splits it the way the
    runtime stores it: a finished task never changes again, so each save writes only the
    tasks that finished since the last one (a *part*, appended beside the instance) and the
    open rest (the instance's row). A long-running instance then costs per step what its
    open tasks cost, not what its history costs. Every ``compact_every`` saves, or when a
    finished task did change after all (an administrator's reset), the parts are folded
    into one again (``rewrite``).
    """

    def __init__(self, compact_every=64):
        config = dict(SPIFF_CONFIG)
        config[ExternalServiceTask] = ServiceTaskConverter
        self.registry = BpmnWorkflowSerializer.configure(config)
        self.serializer = BpmnWorkflowSerializer(self.registry)
        self.version = self.serializer.VERSION
        self.converter = _StateOnlyConverter(BpmnWorkflow, self.registry)
        self._encoder = self.serializer._encoder_cls
        self.compact_every = compact_every

    def dumps(self, workflow):
        """The workflow's whole state as one JSON document."""
        return self._document(workflow, lambda key, wf: self._tasks_json(wf, None, None))

    def save(self, workflow, rewrite=False):
        """``Saved(state, part, rewrite)``: the open state, the newly finished tasks (JSON or
        None), and whether the stored parts must be replaced by this one part."""
        stored = workflow.__dict__.setdefault("_sanshe_stored", {"parts": 0, "tasks": {}})
        rewrite = rewrite or stored["parts"] >= self.compact_every
        frozen = {} if rewrite else stored["tasks"]
        part = {}

        def tasks_of(key, wf):
            return self._tasks_json(wf, frozen.setdefault(key, set()), part.setdefault(key, []))

        try:
            state = self._document(workflow, tasks_of)
        except _FinishedTaskChanged:
            return self.save(workflow, rewrite=True)
        keys = set(frozen) & ({""} | {str(k) for k in workflow.subprocesses})
        stored["tasks"] = {key: frozen[key] for key in keys}  # subprocesses gone are not looked at again
        body = {key: "{" + ",".join(fragments) + "}" for key, fragments in part.items() if fragments}
        text = "{" + ",".join(f'"{key}":{tasks}' for key, tasks in body.items()) + "}" if body else None
        stored["parts"] = (0 if rewrite else stored["parts"]) + (1 if text else 0)
        return Saved(state, text, rewrite)

    def _document(self, workflow, tasks_json):
        fragments = {}
        keys = {id(sub): str(task_id) for task_id, sub in workflow.subprocesses.items()}

        def marker(wf):
            key = f"@@sanshe-tasks-{len(fragments)}@@"
            fragments[key] = wf
            return key

        self.registry._encoder_mode = True
        try:
            text = json.dumps(self.converter.to_dict(workflow, marker), cls=self._encoder, separators=(",", ":"))
            for key, wf in fragments.items():
                text = text.replace(f'"{key}"', tasks_json(keys.get(id(wf), ""), wf), 1)
        finally:
            self.registry._encoder_mode = False
        return text

    def _tasks_json(self, workflow, frozen, part):
        """The JSON object of a (sub)workflow's tasks.

        With ``frozen`` (ids already stored in parts) and ``part`` (a list collecting the
        newly finished tasks), finished tasks move to ``part`` and are left out of the result.
        A finished task's JSON is kept on the workflow object: it never changes again.

        The library stores a task's data as its difference to its parent's. That is only
        kept when the parent's data is stored from the same moment: the parent was written
        in this same pass (and, for a finished task, has finished too). Otherwise the whole
        data is stored. The library copies data only one level deep, so a script that
        changes a nested value also changes that value in tasks stored long ago, and a
        difference taken against the parent as it is now would be read back against the
        parent as it was stored.
        """
        cache = workflow.__dict__.setdefault("_sanshe_task_json", {})
        parts, seen = [], 0
        fresh, reused = set(), set()  # written in this pass / written as in an earlier pass
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
                fragment = cached[1]
                reused.add(task_id)
            else:
                dct = cast(dict[str, Any], self.registry.convert(task))
                parent, delta_parent = task.parent, None
                if dct["delta"]:
                    if parent.id in fresh and (not task.state & finished or parent.state & finished):
                        delta_parent = parent.id
                    else:
                        dct["data"], dct["delta"] = self.registry.convert(task.data), {}
                fragment = f'"{task_id}":' + json.dumps(dct, cls=self._encoder, separators=(",", ":"))
                fresh.add(task_id)
                if task.state & finished:
                    cache[task_id] = (stamp, fragment, delta_parent)
            if frozen is not None and task.state & finished:
                part.append(fragment)
                frozen.add(task_id)
                seen += 1
            else:
                parts.append(fragment)
        if frozen is not None and seen != len(frozen):
            raise _FinishedTaskChanged("a stored task is gone")
        return "{" + ",".join(parts) + "}"

    def loads(self, state, parts, spec, subprocess_specs):
        """The workflow from its stored state and parts (oldest part first)."""
        dct = json.loads(state)
        stored = {"parts": 0, "tasks": {}}
        merged = {}
        for body in parts:
            stored["parts"] += 1
            for key, tasks in json.loads(body).items():
                merged.setdefault(key, {}).update(tasks)
        for key, tasks in merged.items():
            target = dct if key == "" else dct["subprocesses"].get(key)
            if target is not None:
                stored["tasks"][key] = set(tasks)
                tasks.update(target["tasks"])
                target["tasks"] = tasks
        workflow = self.converter.restore(dct, spec, subprocess_specs)
        by_key = {"": workflow, **{str(k): sub for k, sub in workflow.subprocesses.items()}}
        for key, ids in list(stored["tasks"].items()):
            wf = by_key.get(key)
            if wf is None:
                del stored["tasks"][key]
                continue
            cache = wf.__dict__.setdefault("_sanshe_task_json", {})
            uuids = set()
            for task_id in ids:
                task = wf.tasks[_uuid(task_id)]
                cache[task.id] = ((task.state, task.last_state_change), None, None)
                uuids.add(task.id)
            stored["tasks"][key] = uuids
        workflow.__dict__["_sanshe_stored"] = stored
        return workflow


    def forget(self, workflow):
        """Drop what is remembered of stored tasks (after a migration changed them): the next
        save stores everything anew."""
        for wf in (workflow, *workflow.subprocesses.values()):
            wf.__dict__.pop("_sanshe_task_json", None)
        workflow.__dict__["_sanshe_stored"] = {"parts": self.compact_every, "tasks": {}}


class _FinishedTaskChanged(Exception):
    """A task stored as finished is no longer what was stored: store everything anew."""
