"""Drive a Seven-Step project with made-up but valid data: the small world it runs in,
form data from each task's JSON Schema, what workers would answer, and the loop that moves a
project from task to task.

One driver for the tests, the benchmarks (``bench/``), the demo (``sanshe demo``) and anyone
exploring the engine: :func:`make_world` writes one town, community, catalog, organization and
a person per role; :func:`fill` makes form data (``choices`` override fields by name, e.g. the
consultation outcome per round, see :func:`default_choices`); :func:`service_result` answers a
service task per topic, as an external worker would; :func:`drive` completes a project's tasks
as its :class:`People` would until a given task waits or the project ends.
"""
import threading
import time
from collections.abc import Callable, Collection
from datetime import date
from itertools import count
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.db import unit_of_work
from engine.core.models import (Affiliation, CatalogItem, Community, Instance, Job, Organization, RoleGrant, Task, Town,
                                User)
from engine.errors import SansheError
from engine.method.catalog import this_year

#: Who of :func:`make_world`'s people does a task of each role (tasks with an assignee go to them).
USERS_BY_ROLE = {"social_organization": "orgstaff", "community_committee": "committee",
                 "town_government": "town", "supervisor": "supervisor"}


def fill(schema: dict[str, Any], choices: dict[str, Any], path: str = "") -> Any:
    """Valid data for ``schema``; a field named in ``choices`` takes that value (callables are called)."""
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        data: dict[str, Any] = {}
        for name, prop in schema.get("properties", {}).items():
            if name in choices:
                value = choices[name]
                data[name] = value() if callable(value) else value
            elif prop.get("x-widget") != "file":
                data[name] = fill(prop, choices, name)
        return data
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "array":
        return [fill(schema.get("items", {"type": "string"}), choices) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "boolean":
        return True
    if kind in ("number", "integer"):
        low, high = schema.get("minimum", 1), schema.get("maximum", 1000)
        return max(low, 1) if kind == "integer" else float(max(low, high))
    if schema.get("format") == "date":
        return "2026-03-01"
    return "已填写 " + (path or "text")


def service_result(topic: str, variables: dict[str, Any], vote_passes: bool = True) -> dict[str, Any]:
    """What a worker would answer for ``topic`` (the benchmarks' and tests' stand-in workers)."""
    project = variables.get("project", {})
    if topic == "eligibility_check":
        return {"eligible": True, "reasons": []}
    if topic == "vote_roster":
        return {"voters": list(variables.get("bench_voters", ["rep0", "rep1", "rep2"])), "recused": [], "members": 3}
    if topic == "vote_tally":
        return {"valid": True, "passed": vote_passes, "present": 3, "members": 3, "yes": 3 if vote_passes else 0,
                "no": 0 if vote_passes else 3, "abstain": 0}
    if topic == "acceptance_decision":
        return {"accepted": True, "mean_score": 90}
    if topic == "agreement_verify":
        return {"valid": True, "intact": True}
    if topic == "panel_check":
        return {"valid": True, "problems": []}
    return {"ok": True, "topic": topic, "organization_id": project.get("organization_id")}


def default_choices(panel: tuple[str, ...] = ("panel0", "panel1", "panel2"), rounds: int = 0,
                    failed_votes: int = 0, send_backs: int = 0, reports: int = 2) -> dict[str, Any]:
    """Choices for a whole lifecycle: the town sends the screening back ``send_backs`` times,
    the consultation asks for ``rounds`` revision rounds, the representatives vote against the
    application ``failed_votes`` times (each time the committee has the vote redone), then the
    vote passes; delivery ends with the ``reports``-th progress report."""
    consultation, progress, qualification = count(), count(), count()
    failed = 0  # votes failed so far: the committee's decision to redo one ends it

    def ballot() -> str:
        return "no" if failed < failed_votes else "yes"

    def redo() -> str:
        nonlocal failed
        failed += 1
        return "redo"

    return {
        "town_qualification_decision": lambda: "send_back" if next(qualification) < send_backs else "approve",
        "consultation_outcome": lambda: "revise" if next(consultation) < rounds else "mature",
        "town_application_decision": "approve",
        "failed_vote_decision": redo,
        # The application asks for what the town then decides to buy (the decision may not
        # exceed the total the representatives voted on); the installments add up to it.
        "application_budget_total": 40000.0,
        "purchase_buy": True,
        "purchase_amount": 40000.0,
        "purchase_first_installment": 12000.0,
        "purchase_final_installment": 28000.0,
        "delivery_finished": lambda: next(progress) >= reports - 1,
        "panel_members": list(panel),
        "panel_member_categories": [{"username": name, "category": "expert"} for name in panel],
        "ballot": ballot,
        "panel_score": 88,
    }


def add_user(session: Session, username: str, role: str, scope_type: str, scope_id: int,
             organization_id: int | None = None) -> User:
    """A user holding ``role`` in one scope (display name = username); with
    ``organization_id``, employed there since 2020."""
    user = User(username=username, display_name=username)
    user.grants.append(RoleGrant(role=role, scope_type=scope_type, scope_id=scope_id))
    if organization_id is not None:
        user.affiliations.append(Affiliation(organization_id=organization_id, kind="employment",
                                             starts_on=date(2020, 1, 1)))
    session.add(user)
    return user


def make_world(session: Session, representatives: int = 5) -> SimpleNamespace:
    """One town, one community with a catalog item, one organization, a user per role."""
    town = Town(code="liushi", name="柳市镇", name_en="Liushi")
    session.add(town)
    session.flush()
    community = Community(code="xiangdong", name="象东社区", name_en="Xiangdong", town_id=town.id, kind="rural")
    org = Organization(code="org1", name="乐清社工服务中心", service_fields=["elderly"], town_id=town.id)
    other_org = Organization(code="org2", name="另一家机构", service_fields=["youth"], town_id=town.id)
    session.add_all([community, org, other_org])
    session.flush()
    # This year's catalog, approved by the town.
    year = this_year()
    item = CatalogItem(community_id=community.id, year=year, code="E01", name="居家养老服务", service_field="elderly",
                       approved_revision=1)
    sw_item = CatalogItem(community_id=community.id, year=year, code="S01", name="青少年社工", service_field="youth",
                          social_work=True, approved_revision=1)
    session.add_all([item, sw_item])
    session.flush()
    users = SimpleNamespace(
        committee=add_user(session, "committee", "community_committee", "community", community.id),
        town=add_user(session, "town", "town_government", "town", town.id),
        org=add_user(session, "orgstaff", "social_organization", "organization", org.id, org.id),
        other_org=add_user(session, "otherstaff", "social_organization", "organization", other_org.id, other_org.id),
        supervisor=add_user(session, "supervisor", "supervisor", "town", town.id),
        admin=add_user(session, "admin", "administrator", "global", 0),
        reps=[add_user(session, f"rep{i}", "resident_representative", "community", community.id) for i in range(representatives)],
        panel=[add_user(session, f"panel{i}", "evaluation_panel", "community", community.id) for i in range(3)],
    )
    session.flush()
    return SimpleNamespace(town=town, community=community, org=org, other_org=other_org, item=item,
                           sw_item=sw_item, users=users)


def start_project(services: Any, world: SimpleNamespace, key: str = "seven_step_project",
                  title: str = "居家养老服务", item: CatalogItem | None = None) -> int:
    """Start a project of ``world``'s organization on ``item`` (default: its catalog item);
    returns its id."""
    with unit_of_work(services.session_factory) as session:
        org = session.get(User, world.users.org.id)
        assert org is not None
        return services.runtime.start_instance(session, key, org, {
            "title": title, "organization_id": world.org.id, "catalog_item_id": (item or world.item).id}).id


def ready_tasks(session: Session, instance_id: int) -> list[Task]:
    """The instance's human tasks waiting now, oldest first."""
    return list(session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
                                .order_by(Task.created_at, Task.id)))


def instance_status(session: Session, instance_id: int) -> str | None:
    """The instance's status (running, completed ...); None when there is no such instance."""
    return session.scalar(select(Instance.status).where(Instance.id == instance_id))


def actor_for(session: Session, task: Task) -> User | None:
    """Someone who may complete ``task``: its assignee, else the first active holder of its
    lane's role in its scope; None when there is no one."""
    username = task.assignee or session.scalar(
        select(User.username).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == task.role, RoleGrant.scope_type == task.scope_type,
               RoleGrant.scope_id == task.scope_id, User.active.is_(True)).order_by(User.id).limit(1))
    return session.scalar(select(User).where(User.username == username)) if username else None


class People:
    """How a project's people act in :func:`drive`. This one: the task's assignee, else the
    first active holder of its lane's role in its scope, enters :func:`fill` data with
    ``choices`` (default: :func:`default_choices`) and completes it at once; the usernames in
    ``absent`` never do their tasks. ``history`` lists the bpmn ids of the tasks they did, in
    order. The demo's people also take their time and write plausible text (a subclass)."""

    def __init__(self, choices: dict[str, Any] | None = None, absent: Collection[str] = ()) -> None:
        self.choices = default_choices() if choices is None else choices
        self.absent = frozenset(absent)
        self.history: list[str] = []

    def next_task(self, ready: list[Task]) -> Task | None:
        """Of the tasks waiting (oldest first), the one done next; None when no one present may."""
        return next((task for task in ready if task.assignee not in self.absent), None)

    def actor(self, session: Session, task: Task) -> User:
        """Who does ``task``."""
        user = actor_for(session, task)
        if user is None:
            raise SansheError(f"No one may do task {task.bpmn_id} of project {task.instance_id}.")
        return user

    def data(self, task: Task, actor: User, form: dict[str, Any]) -> dict[str, Any]:
        """What ``actor`` enters in ``task``'s ``form``."""
        return fill(form, self.choices)

    def claim(self, task: Task) -> bool:
        """Whether the task is claimed (and this is the moment) before it is completed."""
        return False

    def completing(self, task: Task) -> None:
        """Called just before ``task`` is completed (a claimed task: after its claim)."""

    def done(self, task: Task) -> None:
        """Called once ``task`` is completed (in its own unit of work)."""


def drive(services: Any, instance_id: int, people: People | None = None, *, stop_before: Collection[str] = (),
          work: Callable[[], object] | None = None,
          answer: Callable[[str, dict[str, Any]], dict[str, Any]] | None = service_result,
          max_steps: int = 1000) -> Task | None:
    """Complete the project's tasks as ``people`` would, one unit of work each, until the task
    done next is one of ``stop_before`` or only absent people's tasks wait (returns that task),
    or no task waits for a person (returns None: the project ended, or it waits for a job, a
    timer or a message no one here brings).

    Before each task, ``work()`` runs the real workers (if given) until they are idle, and
    ``answer(topic, variables)`` answers the jobs still ready, as a worker would (None: no
    stand-in). Raises :class:`SansheError` after ``max_steps`` tasks and jobs."""
    people = people or People()
    runtime = services.runtime
    for _ in range(max_steps):
        if work is not None:
            work()
        with unit_of_work(services.session_factory) as session:
            job = None if answer is None else session.scalars(
                select(Job).where(Job.instance_id == instance_id, Job.state == "ready").order_by(Job.id)).first()
            if job is not None and answer is not None:
                runtime.complete_job(session, job, answer(job.topic, job.variables), "driver")
                continue
            ready = ready_tasks(session, instance_id)
        task = people.next_task(ready)
        if task is None or task.bpmn_id in stop_before:
            return task or (ready[0] if ready else None)
        if people.claim(task):
            with unit_of_work(services.session_factory) as session:
                runtime.claims.claim_task(session, task.id, people.actor(session, task))
        people.completing(task)
        with unit_of_work(services.session_factory) as session:
            actor = people.actor(session, task)
            form = runtime.task_form(session, task.id, actor)
            runtime.complete_task(session, task.id, actor, people.data(task, actor, form))
        people.history.append(task.bpmn_id)
        people.done(task)
    raise SansheError(f"Project {instance_id} took more than {max_steps} steps.")


def drive_to_ballots(services: Any, instance_id: int, voters: int) -> list[tuple[str, str]]:
    """Complete the project's tasks (and answer its jobs as a worker would) until the
    ballots of ``voters`` representatives wait: ``[(task id, username)]``."""
    names = [f"rep{i}" for i in range(voters)]
    drive(services, instance_id, stop_before={"cast_ballot"},
          answer=lambda topic, variables: service_result(topic, {**variables, "bench_voters": names}))
    with unit_of_work(services.session_factory, readonly=True) as session:
        return [(task.id, task.assignee or "") for task in session.scalars(
            select(Task).where(Task.instance_id == instance_id, Task.state == "ready", Task.bpmn_id == "cast_ballot")
            .order_by(Task.created_at, Task.id))]


def cast_all(services: Any, ballots: list[tuple[str, str]], ballot: str = "yes") -> tuple[list[str], list[float]]:
    """Submit every ballot at the same moment (one thread and one transaction each, released
    together, as at a representatives' meeting); returns ``(errors, [seconds per ballot])``."""
    barrier = threading.Barrier(len(ballots))
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()
    with unit_of_work(services.session_factory, readonly=True) as session:
        users = {u.username: u for u in session.scalars(select(User))}

    def vote(task_id: str, username: str) -> None:
        barrier.wait()
        started = time.perf_counter()
        try:
            with unit_of_work(services.session_factory) as session:
                services.runtime.complete_task(session, task_id, users[username], {"ballot": ballot})
        except Exception as exc:  # counted and shown: any refusal is what the callers measure
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        with lock:
            latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=vote, args=pair) for pair in ballots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors, latencies
