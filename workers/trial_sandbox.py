"""The sandbox of a trial run (试运行), kept between the administrator's steps.

A sandbox is a folder holding a SQLite database (a copy of the master data, the draft
deployed, one project started) and ``trial.json`` (the sandbox clock, the tasks met, the
timers fired, the messages sent and the steps the project took). Every step opens it,
acts as one unit of work and saves it: the administrator completes a task with data typed
by hand or made from its form, moves the clock to the next timer, sends a message the
project waits for, or lets it run on by itself. A step that is refused (data the form does
not accept, a message nobody waits for) changes nothing, in the database or in the file.

``run_trial`` is the whole run in one go, in a folder removed afterwards.
"""
import copy
import json
import secrets
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine.config import Settings, load_settings
from engine.core import attachments
from engine.core.access import get_user
from engine.core.db import unit_of_work, upgrade_schema
from engine.core.deployments import deploy
from engine.core.jobs import JobQueue
from engine.core.models import utcnow
from engine.errors import ConflictError, NotFoundError, Text, ValidationError
from engine.method import driver
from engine.method.driver import default_choices, fill
from engine.queries import trial as trial_queries
from engine.wiring import build_services

from .demo import SimClock
from .registry import TOPICS
from .trial import (
    MAX_STEPS, TrialReport, TrialTask, administrator, copy_master_data, coverage, decision_fields, element_names,
    landing, starter, steer, timer_decisions,
)
from .worker import Worker

# A sandbox not touched for this long is removed (when the next one is made, and by the scheduler).
SANDBOX_HOURS = 6
STATE_FILE = "trial.json"
# What stands in for a file the form asks for: a trial takes no uploads.
SAMPLE_FILE_NAME = "试运行样例文件.txt"


def file_fields(form: dict[str, Any]) -> list[str]:
    """The names of the form's own file fields (those the person fills in)."""
    return [name for name, prop in (form.get("properties") or {}).items()
            if prop.get("x-widget") == "file" and not prop.get("readOnly") and not prop.get("x-hidden")]


def with_sample_files(session: Session, form: dict[str, Any], data: dict[str, Any], task_id: str,
                      instance_id: int, username: str) -> dict[str, Any]:
    """``data`` with a small generated text file in each file field it leaves empty, stored
    in the sandbox's own database only (a trial takes no uploads)."""
    missing = [name for name in file_fields(form) if not data.get(name)]
    if not missing:
        return data
    data = dict(data)
    for name in missing:
        prop = form["properties"][name]
        content = f"试运行样例文件：{prop.get('title') or name}\n（试运行自动生成，不是真实材料）\n".encode()
        stored = attachments.store(session, content, SAMPLE_FILE_NAME, username, "text/plain",
                                   instance_id=instance_id, task_id=task_id, field=name)
        data[name] = attachments.reference(stored, text=prop.get("type") == "string")
    return data


def sandbox_root() -> Path:
    """Where the sandboxes of trial runs live (one folder each)."""
    return Path(tempfile.gettempdir()) / "sanshe-trials"


class Sandbox:
    """One trial run's sandbox; ``open`` or ``create`` it, act, then ``close``."""

    def __init__(self, folder: Path, settings: Settings, state: dict[str, Any]) -> None:
        self.folder = folder
        self.state = state
        self.clock = SimClock(datetime.fromisoformat(state["now"]))
        sandbox_settings = copy.copy(settings)
        sandbox_settings.database_url = f"sqlite:///{folder / 'trial.db'}"
        self.services = build_services(sandbox_settings, clock=self.clock)
        # The happy path's data, for this opening of the sandbox (its counters, such as
        # "delivery finished at the second report", start again at the next step).
        self.steering = {**default_choices(), "application_budget_total": 40000}

    @property
    def token(self) -> str:
        return self.folder.name

    @property
    def instance_id(self) -> int:
        return self.state["instance_id"]

    # --- making and opening ------------------------------------------------------------

    @classmethod
    def create(cls, source: Engine, bpmn_files: dict[str, str], forms: dict[str, Any], admin: str = "",
               settings: Settings | None = None, root: Path | None = None) -> "Sandbox":
        """A new sandbox with a copy of ``source``'s master data, the draft deployed and a
        project started on it; ``admin`` (a username) sends the messages."""
        root = root or sandbox_root()
        root.mkdir(parents=True, exist_ok=True)
        remove_expired(root)
        folder = root / secrets.token_hex(16)
        folder.mkdir(mode=0o700)
        state: dict[str, Any] = {"now": utcnow().isoformat(), "admin": admin, "tasks": [], "timers": [],
                                 "messages": [], "passed": [], "forms": forms}
        sandbox = cls(folder, settings or load_settings(), state)
        services = sandbox.services
        upgrade_schema(services.db)
        copy_master_data(source, services.db)
        with unit_of_work(services.session_factory) as session:
            [(definition, _created)] = deploy(session, services.runtime.spec_cache, bpmn_files, forms, "trial")
            user, project = starter(session)
            state["xml"], state["key"] = definition.bpmn_xml, definition.key
            state["instance_id"] = services.runtime.start_instance(session, definition.key, user, project).id
        sandbox.settle()
        return sandbox

    @classmethod
    def open(cls, token: str, settings: Settings | None = None, root: Path | None = None) -> "Sandbox":
        """The sandbox ``token`` names (NotFoundError when it is gone or the name is not one)."""
        folder = (root or sandbox_root()) / token
        if not (len(token) == 32 and token.isalnum() and (folder / STATE_FILE).is_file()):
            raise NotFoundError(Text("This trial run is no longer there; start a new one."))
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        return cls(folder, settings or load_settings(), state)

    def save(self) -> None:
        """Keep the state for the next step (written whole, then moved into place)."""
        self.state["now"] = self.clock.now.isoformat()
        scratch = self.folder / (STATE_FILE + ".new")
        scratch.write_text(json.dumps(self.state, ensure_ascii=False, default=str), encoding="utf-8")
        scratch.replace(self.folder / STATE_FILE)

    def close(self) -> None:
        self.services.db.dispose()

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- what the project waits for ----------------------------------------------------

    def open_tasks(self) -> list[tuple[TrialTask, dict[str, Any] | None]]:
        """The project's open tasks, each with whose inbox it is in, and its form (None when
        nobody holds the task's role there)."""
        runtime = self.services.runtime
        with unit_of_work(self.services.session_factory, readonly=True) as session:
            result = []
            for task in driver.ready_tasks(session, self.instance_id):
                actor = driver.actor_for(session, task)
                form = runtime.task_form(session, task.id, actor) if actor else None
                met = landing(session, task)
                met.task_id = task.id
                result.append((met, form))
            return result

    def next_timer(self) -> datetime | None:
        """When the project's next timer is due (None: no timer waits)."""
        with unit_of_work(self.services.session_factory, readonly=True) as session:
            return trial_queries.next_timer_due(session, self.instance_id)

    def next_timer_element(self) -> str | None:
        """The element id of the timer due next (None: no timer waits)."""
        with unit_of_work(self.services.session_factory, readonly=True) as session:
            return trial_queries.next_timer_element(session, self.instance_id)

    def waiting_messages(self) -> list[str]:
        with unit_of_work(self.services.session_factory, readonly=True) as session:
            return sorted(self.services.runtime.waiting_messages(session, self.instance_id))

    def status(self) -> str:
        with unit_of_work(self.services.session_factory, readonly=True) as session:
            return driver.instance_status(session, self.instance_id) or ""

    # --- the administrator's steps -----------------------------------------------------

    def complete(self, task_id: str, data: dict[str, Any] | None = None,
                 choices: dict[str, Any] | None = None) -> None:
        """Complete an open task as someone whose inbox it is in: with ``data`` as typed by
        the administrator (checked as the real form checks it; refused data changes
        nothing), or, without ``data``, with data made from its form (``choices`` steer it)."""
        runtime = self.services.runtime
        with unit_of_work(self.services.session_factory) as session:
            task = next((t for t in driver.ready_tasks(session, self.instance_id) if t.id == task_id), None)
            if task is None:
                raise ConflictError(Text("This task is no longer open in the trial run."))
            actor = driver.actor_for(session, task)
            met = landing(session, task)
            if actor is None:
                raise ConflictError(Text("nobody holds the role %(role)s where %(task)s lands", role=task.role or "",
                                         task=task.name))
            form = runtime.task_form(session, task.id, actor)
            met.by_hand = data is not None
            typed = data if data is not None else fill(form, steer(form, {**self.steering, **(choices or {})}))
            typed = with_sample_files(session, form, typed, task.id, task.instance_id, actor.username)
            runtime.complete_task(session, task.id, actor, typed)
            met.done_by = actor.display_name or actor.username
        self._met(met)
        self.clock.now += timedelta(hours=1)
        self.settle()

    def advance_clock(self) -> datetime:
        """Move the sandbox clock to the project's next timer and fire it; returns its due time."""
        due, element = self.next_timer(), self.next_timer_element() or ""
        if due is None:
            raise ConflictError(Text("No timer of the project is waiting."))
        self.clock.now = max(self.clock.now, due) + timedelta(seconds=1)
        with unit_of_work(self.services.session_factory) as session:
            fired = self.services.runtime.fire_due_timers(session)
        self.state["timers"].append([due.isoformat(), fired, element_names(self.state["xml"]).get(element, "")])
        self.settle()
        return due

    def send_message(self, name: str, payload: dict[str, Any] | None = None) -> None:
        """Send the message ``name`` the project waits for, as the administrator."""
        if name not in self.waiting_messages():
            raise ValidationError(Text("The project does not wait for the message %(name)s now.", name=name))
        with unit_of_work(self.services.session_factory) as session:
            admin = get_user(session, self.state["admin"]) if self.state.get("admin") else administrator(session)
            self.services.runtime.send_message(session, self.instance_id, name, payload or {}, admin)
        self.state["messages"].append(name)
        self.settle()

    def run_on(self, choices: dict[str, Any] | None = None, stop_at_people: bool = False) -> None:
        """Let the project go on by itself: tasks completed with data made from their forms
        (``choices`` steer the decisions), timers fired when nothing else is left; until it
        ends, waits for what the trial cannot do, or (``stop_at_people``) a task is open.

        ``choices`` hold for the first round of the task that asks them (all ballots of one
        vote, say), then the happy path takes over, so that a way back is taken once.
        ``timer:<task id>`` set to True lets that task's deadline expire."""
        overrides = dict(choices or {})
        used_by: dict[str, str] = {}
        for _ in range(MAX_STEPS):
            if self.status() != "running":
                return
            tasks = self.open_tasks()
            if stop_at_people and tasks:
                return
            expiring = [t for t, _form in tasks if overrides.get(f"timer:{t.bpmn_id}") is True]
            if expiring and self.next_timer() is not None:
                overrides.pop(f"timer:{expiring[0].bpmn_id}")  # the administrator lets its time run out
                self._met(expiring[0])
                tasks = []
            if not tasks:
                if self.next_timer() is None:
                    self._problem(Text("the project waits for something the trial cannot do "
                                       "(a message or a failed job)"))
                    self.save()
                    return
                self.advance_clock()
                continue
            met, form = tasks[0]
            if form is None:  # nobody may complete it
                self._met(met)
                self._problem(Text("nobody holds the role %(role)s where %(task)s lands", role=met.role or "",
                                   task=met.name))
                self.save()
                return
            active = {k: v for k, v in overrides.items() if k in set(form.get("properties") or {})}
            self.complete(met.task_id, None, active)
            for name in active:
                used_by[name] = met.bpmn_id
            for name, bpmn_id in list(used_by.items()):
                if bpmn_id != met.bpmn_id:  # its round is over
                    overrides.pop(name, None)
                    del used_by[name]

    # --- bookkeeping -------------------------------------------------------------------

    def settle(self) -> None:
        """Let the workers do the service tasks, note the steps taken, and save."""
        queue = JobQueue(self.services.settings, self.services.runtime, clock=self.clock)
        Worker(self.services.session_factory, queue, TOPICS, "trial-worker", max_jobs=10,
               poll_seconds=0.01).run(until_idle=True)
        with unit_of_work(self.services.session_factory, readonly=True) as session:
            if driver.instance_status(session, self.instance_id) is not None:
                passed = {tuple(p) for p in self.state["passed"]}
                passed |= self.services.runtime.passed_steps(session, self.instance_id)
                self.state["passed"] = sorted(passed)
        self.save()

    def _problem(self, text: Text) -> None:
        self.state["problem"] = [text.template, text.values]

    def _met(self, met: TrialTask) -> None:
        if all(t["task_id"] != met.task_id for t in self.state["tasks"]) or not met.task_id:
            self.state["tasks"].append(met.as_dict())

    def report(self) -> TrialReport:
        """What the run did so far and which parts of the draft it covered."""
        report = TrialReport(tasks=[TrialTask(**t) for t in self.state["tasks"]], timers=[tuple(t) for t in self.state["timers"]],
                             messages=list(self.state["messages"]))
        with unit_of_work(self.services.session_factory, readonly=True) as session:
            report.status = driver.instance_status(session, self.instance_id) or ""
            activities = trial_queries.logged_activities(session, self.instance_id)
            report.services = trial_queries.service_task_names(session, self.instance_id)
        if self.state.get("problem"):
            template, values = self.state["problem"]
            report.problem = Text(template, **values)
        coverage(report, self.state["xml"], activities, {tuple(p) for p in self.state["passed"]})
        return report


def remove_expired(root: Path | None = None, now: float | None = None) -> int:
    """Remove the sandboxes nobody touched for ``SANDBOX_HOURS`` (a half-made one, without
    its state yet, by its folder's age); returns how many. Making a sandbox calls it, and so
    does the scheduler's pass now and then, so that they do not pile up when nobody tries."""
    root = root or sandbox_root()
    if not root.is_dir():
        return 0
    limit = (now if now is not None else time.time()) - SANDBOX_HOURS * 3600
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        state = folder / STATE_FILE
        try:
            touched = (state if state.exists() else folder).stat().st_mtime
        except FileNotFoundError:  # removed meanwhile
            continue
        if touched < limit:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def run_trial(source: Engine, bpmn_files: dict[str, str], forms: dict[str, Any], choices: dict[str, Any] | None = None,
              settings: Settings | None = None) -> TrialReport:
    """Run the draft once, by itself, in a fresh sandbox removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="sanshe-trial-") as root:
        sandbox = Sandbox.create(source, bpmn_files, forms, settings=settings, root=Path(root))
        try:
            sandbox.run_on(choices)
            report = sandbox.report()
            report.decisions = decisions(sandbox.state["xml"], forms, choices)
            return report
        finally:
            sandbox.close()


def decisions(xml: str, forms: dict[str, Any], choices: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The decisions that steer the draft, each with the value this run takes."""
    steering = {**default_choices(), "application_budget_total": 40000, **(choices or {})}
    result = []
    for decision in decision_fields(xml, forms) + timer_decisions(xml):
        options = [value for value, _title in decision["options"]]
        chosen = steering.get(decision["name"], options[0] if options else None)
        result.append({**decision, "chosen": chosen if not callable(chosen) else options[0]})
    return result
