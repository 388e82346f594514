"""Everything that touches SpiffWorkflow directly: parsing, service tasks, state storage.

Nothing outside ``engine/`` imports SpiffWorkflow; this module is the seam (with
:mod:`engine.core.spiff_state`, which stores workflows).
"""
import json
from datetime import datetime, timedelta, timezone
from io import BytesIO
from typing import Any, NamedTuple, Protocol, cast
from collections.abc import Iterable
from uuid import UUID

from lxml import etree
# SpiffWorkflow ships no type stubs (reportMissingTypeStubs); re-exported names are used elsewhere.
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException  # noqa: F401  # pyright: ignore[reportMissingTypeStubs, reportUnusedImport] (for validation)
from SpiffWorkflow.exceptions import SpiffWorkflowException as WorkflowError  # noqa: F401  # pyright: ignore[reportMissingTypeStubs, reportUnusedImport] (for the runtime)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment  # noqa: F401  # pyright: ignore[reportMissingTypeStubs, reportUnusedImport] (for scripting)
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask  # pyright: ignore[reportMissingTypeStubs]
# The parser builds spiff event definitions; a thrown event must be of the same class to be caught.
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition, MessageEventDefinition  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition  # pyright: ignore[reportMissingTypeStubs]
# diff_workflow has no parameter hints; its result is cast where it is called.
from SpiffWorkflow.bpmn.util.diff import diff_workflow  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]
from SpiffWorkflow.bpmn.util.event import BpmnEvent  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser, VALIDATOR  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.spiff.specs.defaults import ServiceTask  # pyright: ignore[reportMissingTypeStubs]
from SpiffWorkflow.util.task import TaskState  # pyright: ignore[reportMissingTypeStubs]

from engine.core import bpmn, spiff_compat

# A task of a BPMN workflow (a ``SpiffWorkflow.task.Task``). The library types its
# ``task_spec`` as the generic ``TaskSpec``, without the BPMN attributes every spec here
# has (``bpmn_id``, ``event_definition``, ``operation_params`` ...), so for the checker the
# alias stays loose; it names what is passed for readers.
BpmnTask = Any


class ProcessSpec(Protocol):
    """What is used of a parsed process (a ``BpmnProcessSpec``; the library has no type hints)."""

    name: str
    task_specs: dict[str, Any]


class _WaitingEvent(Protocol):
    """An event a workflow waits for (``PendingBpmnEvent``), as far as it is read here."""

    @property
    def name(self) -> str: ...
    @property
    def event_type(self) -> str: ...


class Workflow(Protocol):
    """What is used of SpiffWorkflow's ``BpmnWorkflow`` and its subprocesses (the library's
    methods have no parameter hints)."""

    spec: Any  # the BpmnProcessSpec it runs (the library declares the generic WorkflowSpec)
    subprocess_specs: dict[str, ProcessSpec]
    subprocesses: dict[UUID, Any]  # UUID of the calling task: its BpmnSubWorkflow
    tasks: dict[UUID, BpmnTask]
    last_task: BpmnTask | None

    def get_tasks(self, first_task: BpmnTask | None = None, **kwargs: Any) -> list[BpmnTask]: ...
    def do_engine_steps(self) -> None: ...
    def is_completed(self) -> bool: ...
    def catch(self, event: BpmnEvent, /) -> None: ...
    def send_event(self, event: BpmnEvent, /) -> None: ...
    def waiting_events(self) -> list[_WaitingEvent]: ...
    def cancel(self) -> object: ...


class _TimerParsing(Protocol):
    """The ISO 8601 parsers of ``TimerEventDefinition`` (static methods without type hints)."""

    @staticmethod
    def parse_iso_duration(expression: str, /) -> dict[str, float]: ...
    @staticmethod
    def get_datetime(expression: str, /) -> datetime: ...
    @staticmethod
    def parse_iso_recurring_interval(expression: str, /) -> tuple[int, datetime, timedelta]: ...
    @staticmethod
    def get_timedelta_from_start(parsed_duration: dict[str, float], start: datetime | None = None, /) -> timedelta: ...


_TIMERS: _TimerParsing = TimerEventDefinition


class _StateNames(Protocol):
    """``TaskState``'s name of a state (a static method without type hints)."""

    @staticmethod
    def get_name(state: int, /) -> str: ...


_STATES: _StateNames = TaskState


class _ParserClasses(Protocol):
    """The parser's classes for each tag."""

    OVERRIDE_PARSER_CLASSES: dict[str, tuple[type, type]]


def _override_classes(parser: type[_ParserClasses]) -> dict[str, tuple[type, type]]:
    # Read through the Protocol: the library's class attribute has no declared type.
    return parser.OVERRIDE_PARSER_CLASSES


class BpmnParser(Protocol):
    """What is used of SpiffWorkflow's BPMN parser."""

    def add_bpmn_xml(self, document: Any, /, filename: str | None = None) -> None: ...
    def get_spec(self, process_id: str) -> Any: ...  # a ProcessSpec (None only when not required)
    def get_subprocess_specs(self, name: str) -> dict[str, ProcessSpec]: ...


class ExternalServiceTask(ServiceTask):
    """A service task whose work is done by an external worker.

    Running it records nothing and returns ``None``, which leaves the task STARTED; the
    engine turns every STARTED service task into a job, and completes the task with the
    job's result.
    """

    # The library types the base's result as Literal[True]; returning None is its way to leave a task STARTED.
    def _execute(self, task: BpmnTask) -> None:  # pyright: ignore[reportIncompatibleMethodOverride]
        return None

    @property
    def topic(self) -> str:
        return self.operation_name


class SanshePythonParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES: dict[str, tuple[type, type]] = {
        **_override_classes(SpiffBpmnParser),
        f"{{{bpmn.BPMN}}}serviceTask": (ServiceTaskParser, ExternalServiceTask),
    }


def make_parser(validate: bool = True) -> BpmnParser:
    return SanshePythonParser(validator=VALIDATOR if validate else None)


def parse_process(bpmn_xml: str | bytes, filename: str = "diagram.bpmn", process_id: str | None = None,
                  validate: bool = True) -> tuple[str, Any, dict[str, Any]]:
    """Parse one BPMN document; returns ``(process_id, spec, subprocess_specs)``.

    ``process_id`` defaults to the file's one process to run (:func:`main_process_id`).
    Timer texts are read as :func:`standard_timer_texts` says.
    Raises lxml's ``XMLSyntaxError``, SpiffWorkflow's ``ValidationException`` or
    :class:`ProcessChoiceError`.
    """
    parser = make_parser(validate)
    data = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
    tree = etree.parse(BytesIO(data))
    if process_id is None:
        process_id = main_process_id(tree)
    standard_timer_texts(tree)
    lanes_by_role(tree)
    parser.add_bpmn_xml(tree, filename=filename)
    spec, subprocess_specs = parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    connect_multi_instance(spec, subprocess_specs)
    return process_id, spec, subprocess_specs


def connect_multi_instance(spec: ProcessSpec, subprocess_specs: dict[str, ProcessSpec]) -> None:
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


BPMN_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


class ProcessChoiceError(ValueError):
    """A file does not hold exactly one process to run; ``pools`` names the candidates."""

    def __init__(self, message: str, pools: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.pools = list(pools)


def executable_process_ids(tree: Any) -> list[str]:
    """Ids of the processes a file runs on its own: executable ones (all of them when none
    is marked executable) that no call activity of the file calls."""
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    processes = root.findall("bpmn:process", BPMN_NS)
    called = {node.get("calledElement") for node in root.iterfind(".//bpmn:callActivity", BPMN_NS)}
    executable = [p for p in processes if p.get("isExecutable", "true") == "true"] or processes
    return [p.get("id") for p in executable if p.get("id") not in called]


def pool_names(tree: Any) -> dict[str, str]:
    """``{process id: what people call it}``: the pool (participant) name, else the process name."""
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    names = {p.get("id"): p.get("name") or p.get("id") for p in root.findall("bpmn:process", BPMN_NS)}
    for participant in root.iterfind(".//bpmn:participant", BPMN_NS):
        if participant.get("processRef") in names and participant.get("name"):
            names[participant.get("processRef")] = participant.get("name")
    return names


def main_process_id(tree: Any) -> str:
    """The id of the one process the file runs.

    Sanshe runs one process (pool) per file. A collaboration of several executable pools,
    or a file without any process, is refused (``ProcessChoiceError``) rather than
    silently running only one of them.
    """
    ids = executable_process_ids(tree)
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise ProcessChoiceError("the file has no process to run (no bpmn:process element)")
    names = pool_names(tree)
    listed = ", ".join(f"{pid} ({names[pid]})" if names[pid] != pid else pid for pid in ids)
    raise ProcessChoiceError(
        f"the file has {len(ids)} executable pools: {listed}; Sanshe runs one pool per file: mark the "
        "pools of other parties isExecutable=\"false\" (they stay in the drawing) or put each process "
        "in its own file", ids)


# --- lanes ------------------------------------------------------------------------------

SPIFF_NS = {**BPMN_NS, "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
ROLE_PROPERTY = "role"


def lane_role(lane: Any) -> str:
    """The role key of a ``bpmn:lane`` element: its ``role`` extension property
    (``<spiffworkflow:property name="role" value="community_committee"/>``), else its name,
    as in diagrams drawn before lanes were named in Chinese. Empty when it has neither."""
    for prop in lane.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", SPIFF_NS):
        if prop.get("name") == ROLE_PROPERTY:
            return (prop.get("value") or "").strip()
    return (lane.get("name") or "").strip()


def lanes_by_role(tree: Any) -> None:
    """Name every lane of a parsed diagram by its role key (:func:`lane_role`).

    SpiffWorkflow gives a task its lane's *name*; the engine routes tasks by role key, so
    the copy handed to the parser carries the key while the stored diagram keeps the name
    people read (社区居委会)."""
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    for lane in root.iterfind(".//bpmn:lane", BPMN_NS):
        role = lane_role(lane)
        if role:
            lane.set("name", role)


# --- timers ------------------------------------------------------------------------------

TIMER_KINDS = ("timeDuration", "timeDate", "timeCycle")


def iso_timer_value(kind: str, text: str) -> bool:
    """Whether ``text`` is an ISO 8601 value the library runs for a timer of ``kind``
    (``P7D``, ``2027-01-01T09:00:00+08:00``, ``R3/PT1H``, ``R/2027-01-01T09:00:00/P1D``)."""
    text = text.strip()
    try:
        if kind == "timeDuration":
            return text.upper().startswith("P") and bool(_TIMERS.parse_iso_duration(text))
        if kind == "timeDate":
            _TIMERS.get_datetime(text)
            return True
        if kind == "timeCycle":
            if not text.upper().startswith("R") or "/" not in text:
                return False
            _TIMERS.parse_iso_recurring_interval(text)
            return True
    except Exception:  # the library's ISO parsers raise bare Exception, ValueError, AttributeError
        return False
    return False


def timer_expression(kind: str, text: str | None) -> str:
    """The Python expression the library evaluates for a timer text from a diagram.

    - ISO 8601 text as the standard writes it (``P7D``) is that text;
    - a leading ``=`` marks an expression (``=deadline`` or ``="P" + str(days) + "D"``);
    - anything else is a Python expression over the task data (``"P7D"`` quoted, ``deadline``).
    """
    text = (text or "").strip()
    if text.startswith("="):
        return text[1:].strip()
    if iso_timer_value(kind, text):
        return repr(text)
    return text


def standard_timer_texts(tree: Any) -> None:
    """Rewrite the timer texts of a parsed diagram to the expressions the library evaluates
    (:func:`timer_expression`); the element lines stay as they were."""
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    for kind in TIMER_KINDS:
        for node in root.iterfind(f".//bpmn:{kind}", BPMN_NS):
            node.text = timer_expression(kind, node.text)


# --- task inspection used by the runtime ------------------------------------------------

def task_label(task: BpmnTask) -> str:
    """What people call a task: its name in the diagram, else its element id."""
    return task.task_spec.bpmn_name or task.task_spec.bpmn_id


def task_properties(task: BpmnTask) -> dict[str, Any]:
    """The spiffworkflow:properties of a task's spec (multi-instance children inherit)."""
    spec = task.task_spec
    props = getattr(spec, "extensions", {}).get("properties")
    if props is None and task.parent is not None and getattr(task.parent.task_spec, "bpmn_id", None) == spec.bpmn_id:
        props = getattr(task.parent.task_spec, "extensions", {}).get("properties")
    return props or {}


_OPEN_STATES = TaskState.READY | TaskState.STARTED | TaskState.WAITING


def _open_kind(task: BpmnTask) -> int | None:
    """0 for a READY manual task, 1 for a STARTED external service task, 2 for a WAITING
    timer event, None for anything else."""
    spec = task.task_spec
    if task.state == TaskState.READY and spec.manual:
        return 0
    if task.state == TaskState.STARTED and isinstance(spec, ExternalServiceTask):
        return 1
    if task.state == TaskState.WAITING and isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
        return 2
    return None


def open_tasks(workflow: Workflow) -> tuple[list[BpmnTask], list[BpmnTask], list[BpmnTask]]:
    """``(human, services, timers)``: READY manual tasks, STARTED external service tasks and
    WAITING timer events, in the order of the task tree."""
    found: tuple[list[BpmnTask], list[BpmnTask], list[BpmnTask]] = ([], [], [])
    for task in workflow.get_tasks(state=_OPEN_STATES):
        kind = _open_kind(task)
        if kind is not None:
            found[kind].append(task)
    return found


def open_task_sets(workflow: Workflow) -> tuple[set[BpmnTask], set[BpmnTask], set[BpmnTask]]:
    """:func:`open_tasks` as sets, found by looking at each task of the workflow and its
    subprocesses once instead of walking the tree (a tenth of the time on a seven-step
    instance; the tree walk follows every finished branch down to the open tasks)."""
    found: tuple[set[BpmnTask], set[BpmnTask], set[BpmnTask]] = (set(), set(), set())
    for wf in (workflow, *workflow.subprocesses.values()):
        for task in wf.tasks.values():
            if task.state & _OPEN_STATES:
                kind = _open_kind(task)
                if kind is not None:
                    found[kind].add(task)
    return found


def timer_due(task: BpmnTask) -> datetime | None:
    """The UTC due time of a waiting timer (naive), or None when it will not fire again."""
    value = task.task_spec.event_definition.details(task).value
    if isinstance(value, dict):  # a cycle with no runs left (one with runs left gives its next time)
        return None
    if not value:
        return None
    return _TIMERS.get_datetime(value).astimezone(timezone.utc).replace(tzinfo=None)


def force_timer(task: BpmnTask) -> None:
    """Make a waiting timer due now, then let the workflow notice it.

    A cycle keeps its count and interval (only its next time moves, so the next run is one
    interval after this one); a duration or date timer gets a due time in the past.
    """
    value = spiff_compat.timer_value(task)
    if isinstance(value, dict):  # a cycle: {"cycles": left (-1 unbounded), "next": iso, "duration": s}
        now = datetime.now(timezone.utc) - timedelta(milliseconds=1)
        spiff_compat.set_timer_value(task, {**value, "next": now.isoformat()})
    else:
        spiff_compat.set_timer_value(task, "2000-01-01T00:00:00+00:00")
    task.workflow.top_workflow.refresh_timers()
    if is_waiting_timer(task) and timer_due(task) is None:
        # A cycle that has just run its last time finishes at the next refresh; do it now
        # rather than leave the event waiting for nothing.
        task.workflow.top_workflow.refresh_timers()


def is_waiting_timer(task: BpmnTask) -> bool:
    """Whether ``task`` is a timer event still waiting (a cycle with runs left, say)."""
    return task.state == TaskState.WAITING and isinstance(getattr(task.task_spec, "event_definition", None),
                                                          TimerEventDefinition)


def is_iso_duration(text: str) -> bool:
    """Whether ``text`` is an ISO 8601 duration the library can use (e.g. ``P7D``)."""
    try:
        return text.upper().startswith("P") and bool(_TIMERS.parse_iso_duration(text))
    except Exception:  # the library raises bare Exception for a bad duration
        return False


def duration_from(expression: str | None, start: datetime) -> datetime | None:
    """``start`` plus an ISO 8601 duration such as ``P7D`` (None for an empty expression)."""
    if not expression:
        return None
    parsed = _TIMERS.parse_iso_duration(expression.strip().strip("'\""))
    return start + _TIMERS.get_timedelta_from_start(parsed, start)


def service_params(task: BpmnTask) -> tuple[dict[str, Any], dict[str, str]]:
    """``(evaluated, sources)`` of a service task's parameters."""
    spec = task.task_spec
    sources = {name: param["value"] for name, param in spec.operation_params.items()}
    evaluated = {name: param["value"] for name, param in spec.evaluate_params(task).items()}
    return evaluated, sources


def complete_service(task: BpmnTask, result: dict[str, Any]) -> None:
    task.data[task.task_spec.result_variable] = result
    task.complete()


def run_user_task(task: BpmnTask, data: dict[str, Any]) -> None:
    task.data.update(data)
    task.run()


def throw_error(workflow: Workflow, task: BpmnTask, code: str, message: str) -> bool:
    """Route a BPMN error raised by ``task``'s worker to the error boundary event.

    Returns False when nothing in the diagram catches it (the task stays STARTED).
    """
    event = BpmnEvent(ErrorEventDefinition(code, code=code), payload={"message": message})
    workflow.catch(event)
    # The boundary event is only READY now; the attached task is cancelled when it runs.
    workflow.do_engine_steps()
    return task.state != TaskState.STARTED


def waiting_message_names(workflow: Workflow) -> set[str]:
    return {event.name for event in workflow.waiting_events() if event.event_type == "MessageEventDefinition"}


def message_catchers(workflow: Workflow, name: str) -> list[BpmnTask]:
    """The waiting catch events the message ``name`` would complete (in the order of the tree)."""
    return [task for task in workflow.get_tasks(state=TaskState.WAITING)
            if isinstance(getattr(task.task_spec, "event_definition", None), MessageEventDefinition)
            and task.task_spec.event_definition.name == name]


def send_message(workflow: Workflow, name: str, payload: dict[str, Any]) -> None:
    workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload=payload))


def reached_end_events(workflow: Workflow) -> list[str]:
    """Names of the top-level end events completed (the instance's outcome)."""
    return [task_label(task)
            for task in workflow.get_tasks(state=TaskState.COMPLETED)
            if isinstance(task.task_spec, EndEvent) and task.workflow is workflow]


def passed_steps(workflow: Workflow) -> set[tuple[str, str]]:
    """``(source, target)`` element ids of the steps the workflow's task tree shows taken: a
    finished element and the nearest element above it (the library's own helper tasks, such
    as the split and join around boundary events, have no element id and are skipped)."""
    passed: set[tuple[str, str]] = set()
    done = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.WAITING
    for task in workflow.get_tasks(state=done):
        target = _element_id(task)
        if not target:
            continue
        parent = task.parent
        while parent is not None:
            source = _element_id(parent)
            if source is not None:
                if parent.state == TaskState.COMPLETED:
                    passed.add((source, target))
                break
            parent = parent.parent
    return passed


def _element_id(task: BpmnTask) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None)


def cancel_workflow(workflow: Workflow) -> None:
    workflow.cancel()


def new_workflow(spec: Any, subprocess_specs: dict[str, Any], script_engine: Any, data: dict[str, Any]) -> BpmnWorkflow:
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
    _start_with(workflow, data)
    return workflow


def _start_with(workflow: Workflow, data: dict[str, Any]) -> None:
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)


def task_step(task: BpmnTask) -> int | None:
    """The Seven-Step Method step (1..7) a task belongs to, from its ``step`` property."""
    value = task_properties(task).get("step")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def json_data(data: Any) -> Any:
    """A JSON-safe deep copy of task data (dates and other objects become strings)."""
    return json.loads(json.dumps(data, default=str))


def current_data(workflow: Workflow) -> dict[str, Any]:
    """The instance's variables now: the finished workflow's last data, or the open tasks' merged."""
    if workflow.is_completed() and workflow.last_task is not None:
        return json_data(workflow.last_task.data)
    merged: dict[str, Any] = {}
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED):
        merged.update(task.data)
    if not merged and workflow.last_task is not None:
        merged = dict(workflow.last_task.data)
    return json_data(merged)


# --- loops at flat cost ---------------------------------------------------------------------

# A loop (revise and resubmit, a vote held again) makes the task tree one level deeper per
# node passed: SpiffWorkflow keeps every finished task as the ancestor of the next one. Every
# walk over the tree (ready tasks, joins, ``Task.is_descendant_of`` which recurses once per
# ancestor, serialization) then pays for the whole history, and deep enough it fails. The
# history is kept elsewhere (task rows, the event log), so a long straight run of finished
# tasks above the live ones is cut out of the tree: the newest ``PRUNE_KEEP`` stay (joins
# and gateways look only at recent ancestors), the rest leave once ``PRUNE_BATCH`` have
# piled up (so the stored state is rewritten once per batch, not at every step).
PRUNE_KEEP = 16
PRUNE_BATCH = 48


def prune_finished_runs(workflow: Workflow, keep: int = PRUNE_KEEP, batch: int = PRUNE_BATCH) -> list[BpmnTask]:
    """Cut long runs of finished single-child ancestors out of the workflow's task trees
    (the top workflow and each subprocess); returns the tasks whose links changed
    (:func:`spiff_compat.prune_finished_runs`)."""
    return spiff_compat.prune_finished_runs(workflow, keep, batch)


def release_workflow(workflow: BpmnWorkflow) -> None:
    """Free a workflow nobody will use again at once (its tasks and it refer to each other);
    see :func:`spiff_compat.release_workflow`."""
    spiff_compat.release_workflow(workflow)


# --- moving a running workflow to another version of its diagram -------------------------

class TaskRef(NamedTuple):
    """One task, in plain names: ``state`` is SpiffWorkflow's state name (``READY``), ``kind``
    ``service``, ``human`` or ``other``."""
    bpmn_id: str
    name: str
    state: str
    kind: str


class WorkflowDiff(Protocol):
    """What is used of the library's ``WorkflowDiff`` of one workflow against new specs."""

    @property
    def removed(self) -> list[BpmnTask]: ...
    @property
    def changed(self) -> list[BpmnTask]: ...
    @property
    def alignment(self) -> dict[BpmnTask, Any]: ...  # task: its new task spec, or None


class _Registry(Protocol):
    """The serializer's converter registry, as the diff uses it."""

    def convert(self, obj: Any, /) -> dict[str, Any]: ...


class MigrationDiff:
    """What moving a workflow onto new specs touches, in plain names.

    ``removed``: ``TaskRef`` of tasks that were or are somewhere the new version no longer
    has (predicted tasks left out); ``changed_open``: ``(TaskRef, [attributes])`` of
    waiting or running tasks whose element changed; ``missing_subprocesses``: names of
    subprocesses running now that the new version lacks.
    """

    def __init__(self, registry: _Registry, workflow: Workflow, top: WorkflowDiff,
                 subprocesses: dict[UUID, WorkflowDiff | None]) -> None:
        self.top, self.subprocesses = top, subprocesses
        self.removed: list[TaskRef] = []
        self.changed_open: list[tuple[TaskRef, list[str]]] = []
        self.missing_subprocesses: list[str] = []
        pairs: list[tuple[Workflow, WorkflowDiff | None]] = [(workflow, top)]
        pairs += [(workflow.subprocesses[sp_id], d) for sp_id, d in subprocesses.items()]
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


def _describe(task: BpmnTask) -> TaskRef:
    spec = task.task_spec
    bpmn_id, name = getattr(spec, "bpmn_id", None) or spec.name, getattr(spec, "bpmn_name", None) or spec.name
    kind = "service" if isinstance(spec, ExternalServiceTask) else "human" if spec.manual else "other"
    return TaskRef(bpmn_id, name, _STATES.get_name(task.state), kind)


def diff_for_migration(registry: _Registry, workflow: Workflow, new_spec: ProcessSpec,
                       new_subprocess_specs: dict[str, ProcessSpec]) -> MigrationDiff:
    """Compare a running workflow with new specs (``diff_workflow``); changes nothing."""
    top, subprocesses = cast(tuple[WorkflowDiff, dict[UUID, WorkflowDiff | None]],
                             diff_workflow(registry, workflow, new_spec, new_subprocess_specs))
    return MigrationDiff(registry, workflow, top, subprocesses)


def migrate(workflow: Workflow, diff: MigrationDiff, new_spec: ProcessSpec,
            new_subprocess_specs: dict[str, ProcessSpec]) -> None:
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


def _migrate_one(diff: WorkflowDiff, workflow: Workflow, spec: ProcessSpec) -> None:
    workflow.spec = spec
    for task in workflow.tasks.values():
        if diff.alignment.get(task) is not None:
            task.task_spec = diff.alignment[task]
    for task in list(workflow.get_tasks(state=TaskState.READY, skip_subprocesses=True)):
        if task.id in workflow.tasks and not isinstance(getattr(task.parent, "task_spec", None), LoopTask):
            task.reset_branch(None)
    if workflow.last_task not in workflow.tasks:
        workflow.last_task = None
