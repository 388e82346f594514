"""The step pipeline: every change to a running process instance, read top to bottom.

Each public method of :class:`Runtime` is one engine step inside the caller's transaction,
and every step passes the same five stages, in this order in this module:

1. **load** — the instance row, its workflow (from the hot cache, else the store) and the
   tasks open before the step (:meth:`Runtime._checkout`);
2. **act** — the step's own change (complete a human task or a job, route a worker's BPMN
   error, deliver a message, fire a timer, cancel, migrate), after which SpiffWorkflow runs
   the engine tasks it unblocked (``workflow.do_engine_steps()``);
3. **compare** — the tasks open after the step against those before: which human tasks,
   jobs and timers appeared and which went (:func:`compare`);
4. **write** — task, job and timer rows, the instance's state and summary, and the step's
   events, together or not at all; the instance's optimistic lock makes a step that raced
   with another one on the same instance fail with ConflictError (:meth:`Runtime._write`);
5. **publish** — the ``task_ready`` hooks see each new human task, and the workflow goes
   back to the hot cache once the transaction commits (:meth:`Runtime._publish`).

Who may start, steer and stop a process, and which data people never see, is the method's
:class:`~engine.core.policy.StepPolicy`; what happens around a step (notifications, fund
releases, mining) listens through :class:`~engine.core.hooks.Hooks`. This module knows only
BPMN.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.core import access, spiff, stepwrites
from engine.core.claims import TaskClaims
from engine.core.deployments import FORM_PROPERTY, latest_definition
from engine.core.eventlog import EventBatch
from engine.core.forms import validate_form, with_choices
from engine.core.hooks import Hooks
from engine.core.hotcache import HotInstances, after_commit
from engine.core.models import Instance, Job, Task, Timer, User, utcnow
from engine.core.policy import StepPolicy
from engine.core.states import InstanceStatus, JobState, TaskState, TimerState
from engine.errors import ConflictError, NotFoundError, ProcessError, Text, ValidationError

_T = TypeVar("_T")


class OpenTasks(NamedTuple):
    """The tasks of a workflow that wait for someone: people, workers, the clock."""

    human: set[Any]
    services: set[Any]
    timers: set[Any]

    @classmethod
    def of(cls, workflow: Any) -> OpenTasks:
        """The open tasks of ``workflow`` as it is now."""
        return cls(*spiff.open_task_sets(workflow))


@dataclass
class Step:
    """One engine step under way: what the load stage found, and the events gathered."""

    instance: Any  # the ORM row or a stepwrites.Record of it
    definition: Any  # a deployments.DefinitionSnapshot
    workflow: Any  # a SpiffWorkflow BpmnWorkflow
    before: OpenTasks
    batch: EventBatch


@dataclass
class Changes:
    """What the compare stage found: open tasks after the step, and what appeared or went.

    New tasks are sorted by their element id so that rows and events come out in the same
    order every time; gone tasks are task ids (``gone_timers`` keeps the task, for its event).
    """

    after: OpenTasks
    new_human: list[Any]
    gone_human: list[str]
    new_services: list[Any]
    gone_services: list[str]
    new_timers: list[Any]
    gone_timers: dict[str, Any]


def compare(before: OpenTasks, after: OpenTasks, done: Iterable[Any] = ()) -> Changes:
    """Stage 3: the difference between the open tasks before and after a step.

    ``done`` are tasks the step itself finished (their rows are written by the act stage,
    so they do not count as gone).
    """
    done = set(done)

    def by_id(tasks: set[Any]) -> list[Any]:
        return sorted(tasks, key=lambda t: t.task_spec.bpmn_id)

    return Changes(
        after=after,
        new_human=by_id(after.human - before.human),
        gone_human=[str(t.id) for t in before.human - after.human - done],
        new_services=by_id(after.services - before.services),
        gone_services=[str(t.id) for t in before.services - after.services - done],
        new_timers=by_id(after.timers - before.timers),
        gone_timers={str(t.id): t for t in before.timers - after.timers},
    )


def _calendar_days(_session: Session, start: datetime, days: int) -> datetime:
    """The default deadline of ``dueInWorkingDays``: calendar days (no working calendar)."""
    return start + timedelta(days=days)


def task_due(properties: dict[str, Any], start: datetime,
             working_days: Callable[[datetime, int], datetime]) -> datetime | None:
    """A user task's due time, from its diagram ``properties``: ``dueInWorkingDays`` (a whole
    number) working days after ``start`` by the calendar handed in, else ``dueIn`` (an ISO 8601
    duration) after ``start``; None without either."""
    days = str(properties.get("dueInWorkingDays") or "").strip()
    if days.isdigit():  # anything else leaves the ``dueIn`` deadline
        return working_days(start, int(days))
    return spiff.duration_from(properties.get("dueIn"), start)


class TaskRecord(SimpleNamespace):
    """A new human task's row values, as the runtime's hooks and the event log see them."""


class Runtime:
    """The process engine, handed its collaborators.

    ``state_store`` turns workflows into stored state, ``spec_cache`` gives parsed specs per
    definition, ``policy`` is the method's rules at the engine's decision points,
    ``script_engine`` runs diagram expressions, ``clock`` returns naive UTC now and
    ``hooks`` are the listeners of the core's extension points. ``claims`` are the inbox's
    operations on tasks (claim, hand over, draft), which change who works on a task but
    not the process.
    """

    def __init__(self, state_store: Any, spec_cache: Any, policy: StepPolicy, script_engine: Any = None,
                 clock: Callable[[], datetime] = utcnow, hooks: Hooks | None = None, hot_capacity: int = 2000,
                 job_retries: int = 3,
                 working_days: Callable[[Session, datetime, int], datetime] | None = None) -> None:
        self.state_store = state_store
        # ``dueInWorkingDays`` deadlines: (session, start, days) -> the due time; calendar
        # days (weekends count) unless a calendar is handed in.
        self.working_days: Callable[[Session, datetime, int], datetime] = working_days or _calendar_days
        self.spec_cache = spec_cache
        self.policy = policy
        self.script_engine = script_engine
        self.clock = clock
        self.hooks = hooks or Hooks()
        self.hot = HotInstances(hot_capacity, release=spiff.release_workflow)
        self.job_retries = job_retries
        self.claims = TaskClaims(spec_cache, self.hooks, clock=lambda: self.clock())

    # === the steps =========================================================================

    def start_instance(self, session: Session, key: str, user: User, project: dict[str, Any]) -> Instance:
        """Start the newest version of process ``key``; the policy checks ``project`` and
        the starter and says what the instance and its start data are."""
        new = self.policy.new_instance(session, user, project)
        definition = latest_definition(session, key)
        now = self.clock()
        instance = Instance(definition_id=definition.id, started_by=user.username, started_at=now,
                            serializer_version=self.state_store.version, **new.columns)
        session.add(instance)
        session.flush()
        spec, subprocess_specs = self.spec_cache.get(definition)
        workflow = spiff.new_workflow(spec, subprocess_specs, self.script_engine,
                                      {**new.variables, "instance_id": instance.id})
        step = Step(instance, definition, workflow, OpenTasks(set(), set(), set()), self._batch(instance, definition, now))
        step.batch.add("start", "instance", instance.title, "instance", resource=user.username)
        workflow.do_engine_steps()  # pyright: ignore[reportUnknownMemberType] (SpiffWorkflow is untyped)
        self._finish(session, step)
        return instance

    def complete_task(self, session: Session, task_id: str, user: User, data: dict[str, Any]) -> Any:
        """Complete a human task with form data checked against its JSON Schema."""
        row = stepwrites.load(session, stepwrites.LOAD_TASK, task_id)
        if row is None:
            raise NotFoundError("No such task in your inbox.")
        access.check_can_act(session, user, row)
        definition = self.spec_cache.definition(session, row.definition_id)
        schema = with_choices(definition.forms.get(row.form_key) or {"type": "object"}, self.policy.form_choices,
                              session, row, self.clock())
        errors = validate_form(schema, data) or self.policy.check_form(session, row.instance_id, row.form_key, data)
        if errors:
            raise ValidationError("Please correct the marked fields.", errors=errors)
        instance = stepwrites.load(session, stepwrites.LOAD_INSTANCE_FOR_STEP, row.instance_id)
        step = self._checkout(session, instance, definition)
        task = step.workflow.get_task_from_id(UUID(task_id))
        if task is None or task not in step.before.human:
            raise ConflictError("This task is no longer waiting.")
        now = step.batch.now
        if row.claimed_at is None:
            step.batch.task("start", row, user.username)
        spiff.run_user_task(task, data)
        if stepwrites.execute(session, stepwrites.COMPLETE_TASK,
                              {"p_id": row.id, "p_now": now, "p_user": user.username, "p_data": data}).rowcount != 1:
            raise ConflictError("This task is no longer waiting.")
        stepwrites.written(session, Task, row, {"state": TaskState.COMPLETED, "completed_at": now,
                                                "completed_by": user.username, "data": data, "draft": None})
        step.batch.task("complete", row, user.username)
        self._advance(step.workflow)
        self._finish(session, step, done={task})
        return row

    def job_result_problem(self, session: Session, job: Job, result: dict[str, Any]) -> str | None:
        """Why a worker's result contradicts or lacks the facts the method recorded (its policy)."""
        return self.policy.job_result_problem(session, job, result, now=self.clock())

    def complete_job(self, session: Session, job: Job, result: dict[str, Any] | None, resource: str) -> Job:
        """Complete a job's service task with the worker's result and move the instance on."""
        step, task = self._job_checkout(session, job)
        spiff.complete_service(task, result if result is not None else {})
        self._finish_job(session, job, step.batch.now, result)
        step.batch.job("complete", job, resource)
        step.workflow.do_engine_steps()
        self._finish(session, step, done={task})
        return job

    def job_bpmn_error(self, session: Session, job: Job, code: str, message: str, variables: dict[str, Any] | None,
                       resource: str) -> bool:
        """Route a worker's business error to the diagram's error boundary event.

        Returns False (and changes nothing) when the diagram does not catch ``code``; the
        workflow, possibly touched by the attempt, is then not kept in memory.
        """
        step, task = self._job_checkout(session, job)
        if variables:
            task.data.update(variables)
        if not spiff.throw_error(step.workflow, task, code, message):
            return False
        self._finish_job(session, job, step.batch.now, {"bpmn_error": code, "message": message, **(variables or {})},
                         f"{code}: {message}" if message else code)
        step.batch.job("cancel", job, resource)
        step.workflow.do_engine_steps()
        self._finish(session, step, done={task})
        return True

    def send_message(self, session: Session, instance_id: int, name: str, payload: dict[str, Any] | None,
                     user: User) -> Any:
        """Deliver a message (e.g. ``coordination_requested``) to a waiting instance, if the
        policy lets ``user`` send it."""
        instance = access.visible_instance(session, user, instance_id)
        self.policy.check_message(session, user, instance, name)
        step = self._checkout(session, instance, self.spec_cache.definition(session, instance.definition_id))
        catchers = spiff.message_catchers(step.workflow, name)
        if not catchers:
            self._put_back(step)
            raise ConflictError("The project is not at a point where this can be called.")
        for task in catchers:  # logged as the catch event it completes, with its name in the diagram
            step.batch.add("complete", task.task_spec.bpmn_id, spiff.task_label(task), "event", str(task.id),
                           user.username, task.task_spec.lane, spiff.task_step(task))
        spiff.send_message(step.workflow, name, payload or {})
        self._advance(step.workflow)
        self._finish(session, step)
        return step.instance

    def fire_timer(self, session: Session, timer_id: int) -> bool:
        """Fire one due timer (its own engine step); False if it no longer waits.

        The timer's row is locked first: with two schedulers (on two hosts) the second waits
        for the first's step and then sees the timer fired, instead of reading it as still
        waiting and marking it cancelled."""
        timer = session.scalar(select(Timer).where(Timer.id == timer_id).with_for_update()
                               .execution_options(populate_existing=True))
        if timer is None or timer.state != TimerState.WAITING:
            return False
        instance = session.get(Instance, timer.instance_id)
        if instance is None:
            return False
        step = self._checkout(session, instance, self.spec_cache.definition(session, instance.definition_id))
        task = step.workflow.get_task_from_id(UUID(timer.task_id))
        if task is None or task not in step.before.timers:
            timer.state = TimerState.CANCELLED
            self._put_back(step)
            return False
        spiff.force_timer(task)
        timer.state = TimerState.FIRED
        step.batch.add("complete", timer.bpmn_id, spiff.task_label(task), "event", timer.task_id, "scheduler")
        step.workflow.do_engine_steps()
        due = spiff.timer_due(task) if spiff.is_waiting_timer(task) else None
        if due is not None:
            # A cycle with runs left waits again, in the same row, for its next run.
            timer.state, timer.due_at = "waiting", self._shift_to_clock(due, step.batch.now)
            step.batch.add("schedule", timer.bpmn_id, spiff.task_label(task), "event", timer.task_id, None,
                           task.task_spec.lane, spiff.task_step(task))
        self._finish(session, step)
        return True

    def fire_due_timers(self, session: Session) -> int:
        """Fire every due timer in this transaction; returns how many fired."""
        return sum(1 for timer_id in self.due_timers(session) if self.fire_timer(session, timer_id))

    def terminate_instance(self, session: Session, instance_id: int, user: User, reason: str | None) -> Any:
        """Stop a running project before its end, if the policy lets ``user``; open tasks,
        jobs and timers are cancelled and the ``terminated`` hooks run."""
        instance = access.visible_instance(session, user, instance_id)
        self.policy.check_terminate(session, user, instance)
        step = self._checkout(session, instance, self.spec_cache.definition(session, instance.definition_id))
        spiff.cancel_workflow(step.workflow)
        for hook in self.hooks.terminated:
            hook(session, step.instance, step.batch.now)
        self._finish(session, step, ended="cancel", resource=user.username,
                     summary={"status": InstanceStatus.TERMINATED, "ended_at": step.batch.now, "outcome": reason or "terminated"})
        return step.instance

    def migrate_instance(self, session: Session, instance_id: int, definition_id: int, actor: str | None,
                         dry_run: bool = False) -> spiff.MigrationDiff:
        """Move a running instance onto another deployed version of its process.

        Open task rows follow the new diagram (definition, role, form, name); tasks, jobs and
        timers that appear or disappear are written as in any other step. The moved state
        must survive a save and a load; with ``dry_run`` the move is tried on a copy and
        nothing is written.
        Raises ConflictError when SpiffWorkflow cannot move it. Returns the MigrationDiff.
        """
        instance, old, new = self._migration_pair(session, instance_id, definition_id)
        spec, subprocess_specs = self.spec_cache.get(new)
        if dry_run:
            workflow, step = self._restore(session, instance, old), None
        else:
            step = self._checkout(session, instance, old, batch_definition=new)
            workflow = step.workflow
        diff = spiff.diff_for_migration(self.state_store.registry, workflow, spec, subprocess_specs)
        try:
            spiff.migrate(workflow, diff, spec, subprocess_specs)
            # A task left on an element the new version lacks would make the state unloadable.
            self.state_store.loads(self.state_store.dumps(workflow), (), spec, subprocess_specs)
            self.state_store.forget(workflow)
        except Exception as exc:  # SpiffWorkflow's own errors say what it could not place
            raise ConflictError(Text("The project cannot be moved to this version: %(reason)s", reason=str(exc))) from exc
        if step is None:
            return diff
        step.definition = new
        now = step.batch.now
        for row in session.scalars(select(Task).where(Task.instance_id == instance.id, Task.state == TaskState.READY)):
            task = workflow.get_task_from_id(UUID(row.id))
            if task is None:
                continue
            fresh = self._new_task_row(session, step.instance, new, task, now)
            if fresh["role"] != row.role:
                row.claimed_by, row.claimed_at = None, None
            for name in ("definition_id", "bpmn_id", "name", "role", "step", "scope_type", "scope_id", "form_key"):
                setattr(row, name, fresh[name])
        self._finish(session, step, resource=actor, summary={"definition_id": new.id})
        return diff

    # === reading (no step: nothing is written) ============================================

    def get_task(self, session: Session, task_id: str, user: User) -> Task:
        """A task row the user may see (NotFoundError otherwise)."""
        return access.visible_task(session, user, task_id)

    def task_form(self, session: Session, task_id: str, user: User) -> dict[str, Any]:
        """The JSON Schema of the task's form (an empty object schema for a task without one),
        with the values its choice fields offer now."""
        row = self.get_task(session, task_id, user)
        definition = self.spec_cache.definition(session, row.definition_id)
        schema: dict[str, Any] = definition.forms.get(row.form_key) or {"type": "object", "properties": {}}
        return with_choices(schema, self.policy.form_choices, session, row, self.clock())

    def waiting_messages(self, session: Session, instance_id: int) -> set[str]:
        """Names of the messages the running instance waits for now."""
        instance = session.get(Instance, instance_id)
        if instance is None or instance.status != InstanceStatus.RUNNING:
            return set()
        definition = self.spec_cache.definition(session, instance.definition_id)
        return self._peek(session, instance, definition, spiff.waiting_message_names)

    def due_timers(self, session: Session, limit: int = 100) -> list[int]:
        """Ids of timers due by the engine's clock, oldest first."""
        return list(session.scalars(
            select(Timer.id).where(Timer.state == TimerState.WAITING, Timer.due_at <= self.clock()).order_by(Timer.due_at).limit(limit)
        ).all())

    def migration_diff(self, session: Session, instance_id: int, definition_id: int) -> spiff.MigrationDiff:
        """What moving the instance onto ``definition_id`` touches; computed on a copy,
        changes nothing."""
        instance, old, new = self._migration_pair(session, instance_id, definition_id)
        spec, subprocess_specs = self.spec_cache.get(new)
        workflow = self._restore(session, instance, old)
        return spiff.diff_for_migration(self.state_store.registry, workflow, spec, subprocess_specs)

    def passed_steps(self, session: Session, instance_id: int) -> set[tuple[str, str]]:
        """``(source, target)`` element ids of the steps the instance's workflow shows it took
        (recent history only: long finished runs are pruned from the tree, see
        :func:`spiff.prune_finished_runs`)."""
        instance = session.get(Instance, instance_id)
        if instance is None:
            raise NotFoundError("No such project.")
        definition = self.spec_cache.definition(session, instance.definition_id)
        return self._peek(session, instance, definition, spiff.passed_steps)

    def instance_variables(self, session: Session, instance_id: int, user: User | None = None,
                           hide_secret: bool = True) -> dict[str, Any]:
        """The instance's data as of now (the policy's hidden variables left out unless asked for)."""
        instance = session.get(Instance, instance_id) if user is None else access.visible_instance(session, user, instance_id)
        if instance is None:
            raise NotFoundError("No such project.")
        definition = self.spec_cache.definition(session, instance.definition_id)
        data = self._peek(session, instance, definition, spiff.current_data)
        if hide_secret:
            for name in self.policy.hidden_variables:
                data.pop(name, None)
        return data

    # === stage 1: load =====================================================================

    def _restore(self, session: Session, instance: Any, definition: Any) -> Any:
        """The instance's workflow read from the database (its row and its state parts)."""
        spec, subprocess_specs = self.spec_cache.get(definition)
        workflow = self.state_store.loads(*stepwrites.stored_state(session, instance), spec, subprocess_specs)
        workflow.script_engine = self.script_engine or workflow.script_engine
        return workflow

    def _load(self, session: Session, instance: Any, definition: Any) -> tuple[Any, OpenTasks]:
        """``(workflow, open tasks)``, taken out of the hot cache (or read from the database)."""
        workflow, open_sets = self.hot.take(instance.id, instance.lock_version)
        if workflow is None:
            workflow = self._restore(session, instance, definition)
        if open_sets is None:
            open_sets = OpenTasks.of(workflow)
        return workflow, OpenTasks(*open_sets)

    def _peek(self, session: Session, instance: Any, definition: Any, read: Callable[[Any], _T]) -> _T:
        """``read(workflow)`` on the instance's workflow, which then goes back to the hot
        cache. It is out of the cache while read: no other thread changes it or lets it go
        (see :class:`HotInstances`) meanwhile."""
        workflow, open_sets = self._load(session, instance, definition)
        try:
            return read(workflow)
        finally:
            self.hot.put(instance.id, instance.lock_version, workflow, open_sets)

    def _checkout(self, session: Session, instance: Any, definition: Any, batch_definition: Any = None) -> Step:
        """A :class:`Step` on a running instance (an ORM object or a Record; None for a
        missing one); its events are logged under ``batch_definition`` (default: the
        instance's own)."""
        if instance is None:
            raise NotFoundError("No such project.")
        if not isinstance(instance, stepwrites.Record) and session.get_bind().dialect.name == "postgresql":
            # Hold the row until commit, reading what the step before wrote (a Record was
            # loaded with FOR UPDATE already): steps on one instance take turns.
            session.refresh(instance, with_for_update=True)
        if instance.status != InstanceStatus.RUNNING:
            raise ConflictError(Text("This project is already %(status)s.", status=instance.status))
        workflow, before = self._load(session, instance, definition)
        batch_for = batch_definition or definition
        return Step(instance, definition, workflow, before, self._batch(instance, batch_for, self.clock()))

    def _job_checkout(self, session: Session, job: Job) -> tuple[Step, Any]:
        """The step of a job's instance and the job's waiting service task."""
        if job.state in (JobState.COMPLETED, JobState.CANCELLED):
            raise ConflictError(Text("Job %(id)s is already %(state)s.", id=job.id, state=job.state))
        instance = stepwrites.load(session, stepwrites.LOAD_INSTANCE_FOR_STEP, job.instance_id)
        definition = self.spec_cache.definition(session, instance.definition_id) if instance is not None else None
        step = self._checkout(session, instance, definition)
        task = step.workflow.get_task_from_id(UUID(job.task_id))
        if task is None or task not in step.before.services:
            raise ConflictError(Text("Job %(id)s's service task is no longer waiting.", id=job.id))
        return step, task

    def _migration_pair(self, session: Session, instance_id: int, definition_id: int) -> tuple[Instance, Any, Any]:
        """The running instance, its current definition and the one to move to (same key)."""
        instance = session.get(Instance, instance_id)
        if instance is None:
            raise NotFoundError("No such project.")
        if instance.status != InstanceStatus.RUNNING:
            raise ConflictError(Text("This project is already %(status)s.", status=instance.status))
        old = self.spec_cache.definition(session, instance.definition_id)
        new = self.spec_cache.definition(session, definition_id)
        if new.key != old.key:
            raise ValidationError(Text("Version %(version)s belongs to process %(key)s, not %(old)s.",
                                       version=new.version, key=new.key, old=old.key))
        return instance, old, new

    def _batch(self, instance: Any, definition: Any, now: datetime) -> EventBatch:
        """The event batch of a step, handed to the ``events_written`` hooks when flushed."""
        return EventBatch(instance, definition, now, self.hooks.events_written)

    # === stage 2: act — in the public methods above; helpers ================================

    def _advance(self, workflow: Any) -> None:
        """Run the engine steps a person's action set off. When the diagram fails on the
        way (a script or condition raises), the person is told why and the transaction,
        rolled back by the caller, changes nothing."""
        try:
            workflow.do_engine_steps()
        except spiff.WorkflowError as exc:
            raise ProcessError(Text("The process cannot go on from here: %(reason)s", reason=str(exc))) from exc

    def _finish_job(self, session: Session, job: Job, now: datetime, result: dict[str, Any] | None,
                    error: str | None = None) -> None:
        """Write the job row as completed (a second completion changes nothing and fails)."""
        params = {"p_id": job.id, "p_now": now, "p_result": result, "p_error": error if error else job.error_message}
        if stepwrites.execute(session, stepwrites.COMPLETE_JOB, params).rowcount != 1:
            raise ConflictError(Text("Job %(id)s is already done.", id=job.id))
        stepwrites.committed(job, {"state": JobState.COMPLETED, "completed_at": now, "result": result,
                                   "error_message": params["p_error"], "lock_expires_at": None})

    # === stages 3–5: compare, write, publish ===============================================

    def _finish(self, session: Session, step: Step, done: Iterable[Any] = frozenset(), ended: str | None = None,
                resource: str | None = None, summary: dict[str, Any] | None = None) -> None:
        """Compare, write and publish what the act stage changed.

        ``ended`` names the instance's end transition when the step itself ended it (a
        termination); ``summary`` sets instance columns of the step's own (status,
        definition, ...).
        """
        changes = compare(step.before, OpenTasks.of(step.workflow), done)
        old_step = step.instance.current_step
        records = self._write(session, step, changes, ended, resource, summary)
        self._publish(session, step, changes, records, old_step)

    # --- stage 4: write ---------------------------------------------------------------------

    def _write(self, session: Session, step: Step, changes: Changes, ended: str | None, resource: str | None,
               summary: dict[str, Any] | None) -> list[TaskRecord]:
        """Write every row the step changed; returns the new human tasks' records."""
        records = self._write_tasks(session, step, changes, resource)
        self._write_jobs(session, step, changes)
        self._write_timers(session, step, changes, resource)
        self._write_instance(session, step, changes, ended, resource, summary)
        step.batch.flush(session)
        return records

    def _write_tasks(self, session: Session, step: Step, changes: Changes, resource: str | None) -> list[TaskRecord]:
        """Insert rows for new human tasks; cancel the rows of tasks that went without being done."""
        now = step.batch.now
        rows = [self._new_task_row(session, step.instance, step.definition, task, now) for task in changes.new_human]
        records = [TaskRecord(**values) for values in rows]
        if rows:
            stepwrites.execute(session, stepwrites.INSERT_TASKS, rows)
            for record in records:
                step.batch.task("schedule", record)
        if changes.gone_human:
            session.execute(update(Task).where(Task.id.in_(changes.gone_human), Task.state == TaskState.READY)
                            .values(state=TaskState.CANCELLED, completed_at=now).execution_options(synchronize_session=False))
            for row in session.scalars(select(Task).where(Task.id.in_(changes.gone_human))
                                       .execution_options(populate_existing=True)):
                step.batch.task("cancel", row, resource)
        return records

    def _write_jobs(self, session: Session, step: Step, changes: Changes) -> None:
        """Queue a job for each new service task; cancel the jobs of service tasks that went."""
        now = step.batch.now
        jobs = [self._new_job(step.instance, task, now) for task in changes.new_services]
        if jobs:
            lanes = [job.pop("lane") for job in jobs]
            stepwrites.execute(session, stepwrites.INSERT_JOBS, jobs)
            for job, lane in zip(jobs, lanes):
                step.batch.add("schedule", job["bpmn_id"], job["name"], "serviceTask", job["task_id"], None, lane,
                               job["step"])
        if changes.gone_services:
            session.execute(update(Job).where(Job.task_id.in_(changes.gone_services),
                                              Job.state.in_((JobState.READY, JobState.LOCKED, JobState.WAITING,
                                                             JobState.INCIDENT)))
                            .values(state=JobState.CANCELLED, completed_at=now).execution_options(synchronize_session=False))

    def _write_timers(self, session: Session, step: Step, changes: Changes, resource: str | None) -> None:
        """Store the due time of each new timer; cancel timers that went without firing."""
        now = step.batch.now
        timers: list[dict[str, Any]] = []
        for task in changes.new_timers:
            due = spiff.timer_due(task)
            if due is not None:
                timers.append({"instance_id": step.instance.id, "task_id": str(task.id),
                               "bpmn_id": task.task_spec.bpmn_id, "due_at": self._shift_to_clock(due, now),
                               "state": TimerState.WAITING})
                step.batch.add("schedule", task.task_spec.bpmn_id, spiff.task_label(task),
                               "event", str(task.id), None, task.task_spec.lane, spiff.task_step(task))
        if timers:
            stepwrites.execute(session, stepwrites.INSERT_TIMERS, timers)
        if changes.gone_timers:
            # A timer left waiting without firing (its task was done in time, or the instance
            # ended) is cancelled; one that fired was logged when it fired.
            waiting = session.scalars(select(Timer.task_id).where(Timer.task_id.in_(changes.gone_timers),
                                                                  Timer.state == TimerState.WAITING)).all()
            session.execute(update(Timer).where(Timer.task_id.in_(waiting), Timer.state == TimerState.WAITING)
                            .values(state=TimerState.CANCELLED).execution_options(synchronize_session=False))
            for task_id in sorted(waiting):
                task = changes.gone_timers[task_id]
                step.batch.add("cancel", task.task_spec.bpmn_id, spiff.task_label(task), "event", task_id, resource,
                               task.task_spec.lane, spiff.task_step(task))

    def _write_instance(self, session: Session, step: Step, changes: Changes, ended: str | None,
                        resource: str | None, summary: dict[str, Any] | None) -> None:
        """Save the workflow's state and the instance's summary (current step, the end),
        guarded by the optimistic lock; sets ``step.instance.lock_version``."""
        instance, workflow = step.instance, step.workflow
        steps = [spiff.task_step(t) for t in changes.after.human | changes.after.services]
        columns = {"current_step": min((s for s in steps if s), default=instance.current_step), **(summary or {})}
        if ended is None and workflow.is_completed():
            ended = "complete"
            outcomes = spiff.reached_end_events(workflow)
            columns.update(status=InstanceStatus.COMPLETED, ended_at=step.batch.now, outcome=outcomes[-1] if outcomes else "")
        if ended:
            step.batch.add(ended, "instance", instance.title, "instance", resource=resource)
        relinked = spiff.prune_finished_runs(workflow)  # loops cost the same at every round
        if relinked:
            self.state_store.relinked(workflow, relinked)
        saved = self.state_store.save(workflow)
        stepwrites.save_instance(session, instance, saved.state, **columns)
        stepwrites.save_state_part(session, instance.id, saved)

    # --- stage 5: publish -------------------------------------------------------------------

    def _publish(self, session: Session, step: Step, changes: Changes, records: list[TaskRecord],
                 old_step: int | None) -> None:
        """Tell the ``task_ready`` hooks of each new human task and the ``step_moved`` hooks
        when the project reached another step; keep the workflow in memory for the
        instance's next step once the transaction commits."""
        for record in records:
            for hook in self.hooks.task_ready:
                hook(session, record)
        new_step = step.instance.current_step
        if new_step and new_step != old_step:
            for moved in self.hooks.step_moved:
                moved(session, step.instance, old_step, new_step, step.batch.now)
        instance, lock_version, workflow = step.instance, step.instance.lock_version, step.workflow
        if instance.status == InstanceStatus.RUNNING:
            after_commit(session, lambda: self.hot.put(instance.id, lock_version, workflow, changes.after))

    def _put_back(self, step: Step) -> None:
        """A step that changed nothing returns its workflow to the hot cache at once."""
        self.hot.put(step.instance.id, step.instance.lock_version, step.workflow, step.before)

    # --- row values ---------------------------------------------------------------------------

    def _shift_to_clock(self, due: datetime, now: datetime) -> datetime:
        # Timers are computed by the library on the wall clock; an engine running on another
        # clock (a simulation, a test) keeps the same distance from its own now.
        return now + (due - utcnow())

    def _new_task_row(self, session: Session, instance: Any, definition: Any, task: Any,
                      now: datetime) -> dict[str, Any]:
        """The column values of a new human task's row."""
        props = spiff.task_properties(task)
        role = task.task_spec.lane or "administrator"
        scope_type, scope_id = access.scope_for(role, instance.town_id, instance.community_id, instance.organization_id)
        assignee_var = props.get("assignee")
        assignee = task.data.get(assignee_var) if assignee_var else None
        return {
            "id": str(task.id), "instance_id": instance.id, "definition_id": definition.id,
            "bpmn_id": task.task_spec.bpmn_id, "name": spiff.task_label(task),
            "role": role, "step": spiff.task_step(task), "scope_type": scope_type, "scope_id": scope_id,
            "town_id": instance.town_id, "community_id": instance.community_id,
            "organization_id": instance.organization_id, "state": TaskState.READY,
            "assignee": str(assignee) if assignee else None, "claimed_by": None, "claimed_at": None,
            "form_key": props.get(FORM_PROPERTY), "due_at": task_due(props, now, lambda start, days: self.working_days(session, start, days)),
            "created_at": now,
        }

    def _new_job(self, instance: Any, task: Any, now: datetime) -> dict[str, Any]:
        """The column values of a new job's row (and ``lane``, for its event)."""
        params, sources = spiff.service_params(task)
        variables = spiff.json_data(task.data)
        variables["params"] = spiff.json_data(params)
        variables["params_source"] = sources
        return {
            "instance_id": instance.id, "task_id": str(task.id), "bpmn_id": task.task_spec.bpmn_id,
            "name": spiff.task_label(task), "topic": task.task_spec.topic,
            "step": spiff.task_step(task), "variables": variables, "state": JobState.READY, "retries": self.job_retries,
            "priority": 0, "attempts": 0, "run_after": now, "created_at": now, "lane": task.task_spec.lane,
        }
