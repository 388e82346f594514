"""Running process instances: start, complete tasks and jobs, messages, timers.

Every public method is one engine step inside the caller's transaction: the instance
state, task rows, jobs, timers and events it changes are written together or not at all.
Instances carry an optimistic lock: a completion that raced with another one on the same
instance fails with ConflictError and changes nothing.
"""
from types import SimpleNamespace
from uuid import UUID

from sqlalchemy import select, update

from engine.core import access
from engine.core import spiff
from engine.core import stepwrites
from engine.core.claims import TaskClaims
from engine.core.deployments import FORM_PROPERTY, latest_definition
from engine.errors import ConflictError, ForbiddenError, NotFoundError, Text, ValidationError
from engine.core.eventlog import EventBatch
from engine.core.forms import validate_form
from engine.core.hotcache import HotInstances, after_commit
from engine.queries.listings import visible_instance
from engine.core.models import CatalogItem, Community, Instance, Job, Organization, Task, Timer, utcnow

# Variables never shown to people: single ballots, scores and who cast them (the tallies are
# recorded as decisions and shown instead).
SECRET_VARIABLES = ("ballots", "ballot", "vote_record", "votes", "scores")


class Runtime(TaskClaims):
    """The process engine, handed its collaborators.

    ``state_store`` turns workflows into stored state, ``spec_cache`` gives parsed specs per
    definition, ``script_engine`` runs diagram expressions, ``clock`` returns naive UTC now,
    each ``on_task_ready(session, task)`` hook sees every new human task (a :class:`TaskRecord`
    of its row's values, written just before), and each
    ``on_terminated(session, instance, now)`` hook sees a project stopped before its end
    (e.g. to release earmarked funds).
    """

    def __init__(self, state_store, spec_cache, script_engine=None, clock=utcnow, on_task_ready=(), hot_capacity=2000,
                 job_retries=3, on_terminated=()):
        self.state_store = state_store
        self.spec_cache = spec_cache
        self.script_engine = script_engine
        self.clock = clock
        self.on_task_ready = list(on_task_ready)
        self.on_terminated = list(on_terminated)
        self.hot = HotInstances(hot_capacity)
        self.job_retries = job_retries

    # --- starting -------------------------------------------------------------------------

    def start_instance(self, session, key, user, project):
        """Start the newest version of process ``key`` for a project.

        ``project`` names at least ``title``, ``catalog_item_id`` and ``organization_id``;
        the community and town follow from the catalog item. The starter must work for the
        organization (or be an administrator).
        """
        project = dict(project or {})
        errors = {}
        if not str(project.get("title", "")).strip():
            errors["title"] = [Text("A project needs a title.")]
        item = session.get(CatalogItem, project.get("catalog_item_id")) if project.get("catalog_item_id") else None
        if item is None:
            errors["catalog_item_id"] = [Text("Choose an item from the community's catalog.")]
        org = session.get(Organization, project.get("organization_id")) if project.get("organization_id") else None
        if org is None:
            errors["organization_id"] = [Text("Choose the organization that applies.")]
        if errors:
            raise ValidationError("The project cannot start.", errors=errors)
        if not access.holds_or_admin(session, user, "social_organization", "organization", org.id):
            raise ForbiddenError("Only staff of the applying organization can start its project.")
        community = session.get(Community, item.community_id)
        definition = latest_definition(session, key)
        project.update({
            "town_id": community.town_id, "community_id": community.id, "organization_id": org.id,
            "catalog_item_id": item.id, "social_work": bool(item.social_work), "lead": user.username,
            "organization_name": org.name, "community_name": community.name, "item_name": item.name,
            "service_field": item.service_field,
        })
        now = self.clock()
        instance = Instance(
            definition_id=definition.id, title=project["title"].strip(), town_id=community.town_id,
            community_id=community.id, organization_id=org.id, catalog_item_id=item.id,
            social_work=bool(item.social_work), started_by=user.username, started_at=now,
            serializer_version=self.state_store.version,
        )
        session.add(instance)
        session.flush()
        spec, subprocess_specs = self.spec_cache.get(definition)
        workflow = spiff.new_workflow(spec, subprocess_specs, self.script_engine,
                                      {"project": project, "instance_id": instance.id})
        batch = EventBatch(instance, definition, now)
        batch.add("start", "instance", instance.title, "instance", resource=user.username)
        workflow.do_engine_steps()
        self._sync(session, instance, definition, workflow, (set(), set(), set()), batch)
        return instance

    # --- human tasks ----------------------------------------------------------------------

    def get_task(self, session, task_id, user):
        """A task row the user may see (NotFoundError otherwise)."""
        return access.visible_task(session, user, task_id)

    def task_form(self, session, task_id, user):
        row = self.get_task(session, task_id, user)
        definition = self.spec_cache.definition(session, row.definition_id)
        return definition.forms.get(row.form_key) or {"type": "object", "properties": {}}

    def complete_task(self, session, task_id, user, data):
        """Complete a human task with form data checked against its JSON Schema."""
        row = stepwrites.load(session, stepwrites.LOAD_TASK, task_id)
        if row is None:
            raise NotFoundError("No such task in your inbox.")
        access.check_can_act(session, user, row)
        definition = self.spec_cache.definition(session, row.definition_id)
        schema = definition.forms.get(row.form_key) or {"type": "object"}
        errors = validate_form(schema, data)
        if errors:
            raise ValidationError("Please correct the marked fields.", errors=errors)
        instance, workflow, before = self._checkout(
            session, stepwrites.load(session, stepwrites.LOAD_INSTANCE, row.instance_id), definition)
        task = workflow.get_task_from_id(UUID(task_id))
        if task is None or task not in before[0]:
            raise ConflictError("This task is no longer waiting.")
        now = self.clock()
        batch = EventBatch(instance, definition, now)
        if row.claimed_at is None:
            batch.task("start", row, user.username)
        spiff.run_user_task(task, data)
        if stepwrites.execute(session, stepwrites.COMPLETE_TASK,
                              {"p_id": row.id, "p_now": now, "p_user": user.username, "p_data": data}).rowcount != 1:
            raise ConflictError("This task is no longer waiting.")
        stepwrites.written(session, Task, row, {"state": "completed", "completed_at": now,
                                                "completed_by": user.username, "data": data, "draft": None})
        batch.task("complete", row, user.username)
        workflow.do_engine_steps()
        self._sync(session, instance, definition, workflow, before, batch, done={task})
        return row

    # --- jobs (service tasks done by workers) -----------------------------------------------

    def complete_job(self, session, job, result, resource):
        """Complete a job's service task with the worker's result and move the instance on."""
        instance, workflow, before, definition, task = self._job_checkout(session, job)
        now = self.clock()
        batch = EventBatch(instance, definition, now)
        spiff.complete_service(task, result if result is not None else {})
        self._finish_job(session, job, now, result)
        batch.job("complete", job, resource)
        workflow.do_engine_steps()
        self._sync(session, instance, definition, workflow, before, batch, done={task})
        return job

    def job_bpmn_error(self, session, job, code, message, variables, resource):
        """Route a worker's business error to the diagram's error boundary event.

        Returns False (and changes nothing) when the diagram does not catch ``code``; the
        workflow, possibly touched by the attempt, is then not kept in memory.
        """
        instance, workflow, before, definition, task = self._job_checkout(session, job)
        if variables:
            task.data.update(variables)
        if not spiff.throw_error(workflow, task, code, message):
            return False
        now = self.clock()
        batch = EventBatch(instance, definition, now)
        self._finish_job(session, job, now, {"bpmn_error": code, "message": message, **(variables or {})},
                         f"{code}: {message}" if message else code)
        batch.job("cancel", job, resource)
        workflow.do_engine_steps()
        self._sync(session, instance, definition, workflow, before, batch, done={task})
        return True

    def _finish_job(self, session, job, now, result, error=None):
        params = {"p_id": job.id, "p_now": now, "p_result": result, "p_error": error if error else job.error_message}
        if stepwrites.execute(session, stepwrites.COMPLETE_JOB, params).rowcount != 1:
            raise ConflictError(Text("Job %(id)s is already done.", id=job.id))
        stepwrites.committed(job, {"state": "completed", "completed_at": now, "result": result,
                                   "error_message": params["p_error"], "lock_expires_at": None})

    def _job_checkout(self, session, job):
        if job.state in ("completed", "cancelled"):
            raise ConflictError(Text("Job %(id)s is already %(state)s.", id=job.id, state=job.state))
        instance = stepwrites.load(session, stepwrites.LOAD_INSTANCE, job.instance_id)
        definition = self.spec_cache.definition(session, instance.definition_id)
        instance, workflow, before = self._checkout(session, instance, definition)
        task = workflow.get_task_from_id(UUID(job.task_id))
        if task is None or task not in before[1]:
            raise ConflictError(Text("Job %(id)s's service task is no longer waiting.", id=job.id))
        return instance, workflow, before, definition, task

    # --- messages, timers, termination ------------------------------------------------------

    def send_message(self, session, instance_id, name, payload, user):
        """Deliver a message (e.g. ``coordination_requested``) to a waiting instance.

        The community committee of the instance's community (or an administrator) may send.
        """
        instance = visible_instance(session, user, instance_id)
        if not access.holds_or_admin(session, user, "community_committee", "community", instance.community_id):
            raise ForbiddenError("Only the community committee can call this meeting.")
        definition = self.spec_cache.definition(session, instance.definition_id)
        instance, workflow, before = self._checkout(session, instance, definition)
        if name not in spiff.waiting_message_names(workflow):
            self.hot.put(instance.id, instance.lock_version, workflow, before)
            raise ConflictError("The project is not at a point where this can be called.")
        batch = EventBatch(instance, definition, self.clock())
        batch.add("complete", name, name, "event", resource=user.username)
        spiff.send_message(workflow, name, payload or {})
        workflow.do_engine_steps()
        self._sync(session, instance, definition, workflow, before, batch)
        return instance

    def waiting_messages(self, session, instance_id):
        instance = session.get(Instance, instance_id)
        if instance is None or instance.status != "running":
            return set()
        definition = self.spec_cache.definition(session, instance.definition_id)
        return spiff.waiting_message_names(self._peek(session, instance, definition))

    def due_timers(self, session, limit=100):
        """Ids of timers due by the engine's clock, oldest first."""
        return session.scalars(
            select(Timer.id).where(Timer.state == "waiting", Timer.due_at <= self.clock()).order_by(Timer.due_at).limit(limit)
        ).all()

    def fire_timer(self, session, timer_id):
        """Fire one due timer (its own engine step)."""
        timer = session.get(Timer, timer_id)
        if timer is None or timer.state != "waiting":
            return False
        instance = session.get(Instance, timer.instance_id)
        definition = self.spec_cache.definition(session, instance.definition_id)
        instance, workflow, before = self._checkout(session, instance, definition)
        task = workflow.get_task_from_id(UUID(timer.task_id))
        if task is None or task not in before[2]:
            timer.state = "cancelled"
            self.hot.put(instance.id, instance.lock_version, workflow, before)
            return False
        batch = EventBatch(instance, definition, self.clock())
        spiff.force_timer(task)
        timer.state = "fired"
        batch.add("complete", timer.bpmn_id, spiff.task_label(task), "event", timer.task_id, "scheduler")
        workflow.do_engine_steps()
        self._sync(session, instance, definition, workflow, before, batch)
        return True

    def fire_due_timers(self, session):
        """Fire every due timer in this transaction; returns how many fired."""
        return sum(1 for timer_id in self.due_timers(session) if self.fire_timer(session, timer_id))

    def terminate_instance(self, session, instance_id, user, reason):
        instance = visible_instance(session, user, instance_id)
        if not access.holds_or_admin(session, user, "town_government", "town", instance.town_id):
            raise ForbiddenError("Only the town government or an administrator can terminate a project.")
        definition = self.spec_cache.definition(session, instance.definition_id)
        instance, workflow, before = self._checkout(session, instance, definition)
        spiff.cancel_workflow(workflow)
        batch = EventBatch(instance, definition, self.clock())
        for hook in self.on_terminated:
            hook(session, instance, batch.now)
        self._sync(session, instance, definition, workflow, before, batch, ended="cancel", resource=user.username,
                   summary={"status": "terminated", "ended_at": batch.now, "outcome": reason or "terminated"})
        return instance

    # --- versions -------------------------------------------------------------------------

    def migration_diff(self, session, instance_id, definition_id):
        """What moving the instance onto ``definition_id`` touches (``spiff.MigrationDiff``);
        computed on a copy, changes nothing."""
        instance, old, new = self._migration_pair(session, instance_id, definition_id)
        spec, subprocess_specs = self.spec_cache.get(new)
        workflow = self._restore(session, instance, old)
        return spiff.diff_for_migration(self.state_store.registry, workflow, spec, subprocess_specs)

    def migrate_instance(self, session, instance_id, definition_id, actor, dry_run=False):
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
            workflow = self._restore(session, instance, old)
        else:
            instance, workflow, before = self._checkout(session, instance, old)
        diff = spiff.diff_for_migration(self.state_store.registry, workflow, spec, subprocess_specs)
        try:
            spiff.migrate(workflow, diff, spec, subprocess_specs)
            # A task left on an element the new version lacks would make the state unloadable.
            self.state_store.loads(self.state_store.dumps(workflow), (), spec, subprocess_specs)
            self.state_store.forget(workflow)
        except Exception as exc:  # SpiffWorkflow's own errors say what it could not place
            raise ConflictError(Text("The project cannot be moved to this version: %(reason)s", reason=str(exc))) from exc
        if dry_run:
            return diff
        now = self.clock()
        for row in session.scalars(select(Task).where(Task.instance_id == instance.id, Task.state == "ready")):
            task = workflow.get_task_from_id(UUID(row.id))
            if task is None:
                continue
            fresh = self._new_task_row(instance, new, task, now)
            if fresh["role"] != row.role:
                row.claimed_by, row.claimed_at = None, None
            for name in ("definition_id", "bpmn_id", "name", "role", "step", "scope_type", "scope_id", "form_key"):
                setattr(row, name, fresh[name])
        self._sync(session, instance, new, workflow, before, EventBatch(instance, new, now), resource=actor,
                   summary={"definition_id": new.id})
        return diff

    def _migration_pair(self, session, instance_id, definition_id):
        instance = session.get(Instance, instance_id)
        if instance is None:
            raise NotFoundError("No such project.")
        if instance.status != "running":
            raise ConflictError(Text("This project is already %(status)s.", status=instance.status))
        old = self.spec_cache.definition(session, instance.definition_id)
        new = self.spec_cache.definition(session, definition_id)
        if new.key != old.key:
            raise ValidationError(Text("Version %(version)s belongs to process %(key)s, not %(old)s.",
                                       version=new.version, key=new.key, old=old.key))
        return instance, old, new

    # --- reading ------------------------------------------------------------------------

    def instance_variables(self, session, instance_id, user=None, hide_secret=True):
        """The instance's data as of now (secret ballots left out unless asked for)."""
        instance = session.get(Instance, instance_id) if user is None else visible_instance(session, user, instance_id)
        if instance is None:
            raise NotFoundError("No such project.")
        definition = self.spec_cache.definition(session, instance.definition_id)
        data = spiff.current_data(self._peek(session, instance, definition))
        if hide_secret:
            for name in SECRET_VARIABLES:
                data.pop(name, None)
        return data

    # --- internals ------------------------------------------------------------------------

    def _restore(self, session, instance, definition):
        """The instance's workflow read from the database (its row and its state parts)."""
        spec, subprocess_specs = self.spec_cache.get(definition)
        workflow = self.state_store.loads(*stepwrites.stored_state(session, instance), spec, subprocess_specs)
        workflow.script_engine = self.script_engine or workflow.script_engine
        return workflow

    def _load(self, session, instance, definition):
        """``(workflow, open tasks)``, taken out of the hot cache (or read from the database)."""
        workflow, open_sets = self.hot.take(instance.id, instance.lock_version)
        if workflow is None:
            workflow = self._restore(session, instance, definition)
        if open_sets is None:
            open_sets = tuple(set(group) for group in spiff.open_tasks(workflow))
        return workflow, open_sets

    def _peek(self, session, instance, definition):
        """The instance's workflow for reading; it stays in the hot cache."""
        workflow, open_sets = self._load(session, instance, definition)
        self.hot.put(instance.id, instance.lock_version, workflow, open_sets)
        return workflow

    def _checkout(self, session, instance, definition):
        """``(instance, workflow, open tasks)`` for a step on a running instance (an ORM object
        or a Record; None for a missing one)."""
        if instance is None:
            raise NotFoundError("No such project.")
        if instance.status != "running":
            raise ConflictError(Text("This project is already %(status)s.", status=instance.status))
        return (instance, *self._load(session, instance, definition))

    def _sync(self, session, instance, definition, workflow, before, batch, done=frozenset(), ended=None, resource=None,
              summary=None):
        """Write what the step changed: new and gone tasks, jobs, timers, the end, the state.

        ``summary`` sets instance columns of the step's own (status, definition, ...).
        """
        now = batch.now
        human, services, timers = open_sets = tuple(set(group) for group in spiff.open_tasks(workflow))
        old_human, old_services, old_timers = before
        new_rows = [self._new_task_row(instance, definition, task, now)
                    for task in sorted(human - old_human, key=lambda t: t.task_spec.bpmn_id)]
        if new_rows:
            stepwrites.execute(session, stepwrites.INSERT_TASKS, new_rows)
            for values in new_rows:
                record = TaskRecord(**values)
                batch.task("schedule", record)
                for hook in self.on_task_ready:
                    hook(session, record)
        gone_human = [str(t.id) for t in old_human - human - set(done)]
        if gone_human:
            session.execute(update(Task).where(Task.id.in_(gone_human), Task.state == "ready")
                            .values(state="cancelled", completed_at=now).execution_options(synchronize_session=False))
            for row in session.scalars(select(Task).where(Task.id.in_(gone_human))
                                       .execution_options(populate_existing=True)):
                batch.task("cancel", row, resource)
        new_jobs = [self._new_job(instance, task, now) for task in sorted(services - old_services,
                                                                         key=lambda t: t.task_spec.bpmn_id)]
        if new_jobs:
            lanes = [job.pop("lane") for job in new_jobs]
            stepwrites.execute(session, stepwrites.INSERT_JOBS, new_jobs)
            for job, lane in zip(new_jobs, lanes):
                batch.add("schedule", job["bpmn_id"], job["name"], "serviceTask", job["task_id"], None, lane, job["step"])
        gone_services = [str(t.id) for t in old_services - services - set(done)]
        if gone_services:
            session.execute(update(Job).where(Job.task_id.in_(gone_services), Job.state.in_(("ready", "locked", "incident")))
                            .values(state="cancelled", completed_at=now).execution_options(synchronize_session=False))
        new_timers = []
        for task in sorted(timers - old_timers, key=lambda t: t.task_spec.bpmn_id):
            due = spiff.timer_due(task)
            if due is not None:
                new_timers.append({"instance_id": instance.id, "task_id": str(task.id), "bpmn_id": task.task_spec.bpmn_id,
                                   "due_at": self._shift_to_clock(due, now), "state": "waiting"})
                batch.add("schedule", task.task_spec.bpmn_id, spiff.task_label(task),
                          "event", str(task.id), None, task.task_spec.lane, spiff.task_step(task))
        if new_timers:
            stepwrites.execute(session, stepwrites.INSERT_TIMERS, new_timers)
        gone_timers = {str(t.id): t for t in old_timers - timers}
        if gone_timers:
            # A timer left waiting without firing (its task was done in time, or the instance
            # ended) is cancelled; one that fired was logged when it fired.
            waiting = session.scalars(select(Timer.task_id).where(Timer.task_id.in_(gone_timers),
                                                                  Timer.state == "waiting")).all()
            session.execute(update(Timer).where(Timer.task_id.in_(waiting), Timer.state == "waiting")
                            .values(state="cancelled").execution_options(synchronize_session=False))
            for task_id in sorted(waiting):
                task = gone_timers[task_id]
                batch.add("cancel", task.task_spec.bpmn_id, spiff.task_label(task), "event", task_id, resource,
                          task.task_spec.lane, spiff.task_step(task))
        steps = [spiff.task_step(t) for t in human | services]
        changes = {"current_step": min((s for s in steps if s), default=instance.current_step), **(summary or {})}
        if ended is None and workflow.is_completed():
            ended = "complete"
            outcomes = spiff.reached_end_events(workflow)
            changes.update(status="completed", ended_at=now, outcome=outcomes[-1] if outcomes else "")
        if ended:
            batch.add(ended, "instance", instance.title, "instance", resource=resource)
        saved = self.state_store.save(workflow)
        lock_version = stepwrites.save_instance(session, instance, saved.state, **changes)
        stepwrites.save_state_part(session, instance.id, saved)
        batch.flush(session)
        if instance.status == "running":
            after_commit(session, lambda: self.hot.put(instance.id, lock_version, workflow, open_sets))

    def _shift_to_clock(self, due, now):
        # Timers are computed by the library on the wall clock; an engine running on another
        # clock (a simulation, a test) keeps the same distance from its own now.
        return now + (due - utcnow())

    def _new_task_row(self, instance, definition, task, now):
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
            "organization_id": instance.organization_id, "state": "ready",
            "assignee": str(assignee) if assignee else None, "claimed_by": None, "claimed_at": None,
            "form_key": props.get(FORM_PROPERTY), "due_at": spiff.duration_from(props.get("dueIn"), now),
            "created_at": now,
        }

    def _new_job(self, instance, task, now):
        """The column values of a new job's row (and ``lane``, for its event)."""
        params, sources = spiff.service_params(task)
        variables = spiff.json_data(task.data)
        variables["params"] = spiff.json_data(params)
        variables["params_source"] = sources
        return {
            "instance_id": instance.id, "task_id": str(task.id), "bpmn_id": task.task_spec.bpmn_id,
            "name": spiff.task_label(task), "topic": task.task_spec.topic,
            "step": spiff.task_step(task), "variables": variables, "state": "ready", "retries": self.job_retries,
            "priority": 0, "attempts": 0, "run_after": now, "created_at": now, "lane": task.task_spec.lane,
        }


class TaskRecord(SimpleNamespace):
    """A new human task's row values, as the runtime's hooks and the event log see them."""
