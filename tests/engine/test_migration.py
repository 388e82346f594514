"""Running instances moved onto a newer version of the seven-step process."""
import pytest
from sqlalchemy import func, select

from engine.method.driver import default_choices, fill, service_result
from engine.core import migration
from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from engine.errors import ConflictError
from engine.core.models import AuditEntry, Instance, Job, Task, User
from tests import diagram_edits as edits
from tests.factories import make_world

USERS_BY_ROLE = {"social_organization": "orgstaff", "community_committee": "committee",
                 "town_government": "town", "supervisor": "supervisor"}
FILE = "seven_step_project.bpmn"


@pytest.fixture
def env(services):
    bpmn, forms = read_bundle([edits.PROCESSES])
    with unit_of_work(services.session_factory) as session:
        [(v1, _)] = deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
        world = make_world(session, representatives=3)
    return services, world, forms, v1.id


def deploy_v2(services, forms, xml):
    with unit_of_work(services.session_factory) as session:
        [(v2, created)] = deploy(session, services.runtime.spec_cache, {FILE: xml},
                                 {**forms, edits.NEW_FORM: edits.NEW_FORM_SCHEMA}, "admin")
        assert created
        return v2.id


def changed_diagram():
    return edits.set_param(edits.insert_town_task(edits.original()), "tally_votes", "pass_ratio", "2/3")


def start(services, world):
    with unit_of_work(services.session_factory) as session:
        org = session.get(User, world.users.org.id)
        return services.runtime.start_instance(session, "seven_step_project", org, {
            "title": "象东居家养老", "organization_id": world.org.id, "catalog_item_id": world.item.id}).id


def advance(services, instance_id, until):
    """Do jobs and tasks until one named ``until`` is open (a ready task or a ready job)."""
    while True:
        with unit_of_work(services.session_factory) as session:
            job = session.scalars(select(Job).where(Job.instance_id == instance_id, Job.state == "ready")).first()
            row = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")
                                  .order_by(Task.created_at, Task.id)).first()
            if until in {getattr(job, "bpmn_id", None), getattr(row, "bpmn_id", None)}:
                return
            if job is not None:
                services.runtime.complete_job(session, job, service_result(job.topic, job.variables), "worker")
                continue
            assert row is not None, f"the instance ended before {until}"
            complete(services, session, row)


def complete(services, session, row, **choices):
    user = session.scalar(select(User).where(User.username == (row.assignee or USERS_BY_ROLE[row.role])))
    form = services.runtime.task_form(session, row.id, user)
    services.runtime.complete_task(session, row.id, user, fill(form, {**default_choices(), **choices}))


def ready_rows(services, instance_id):
    with unit_of_work(services.session_factory, readonly=True) as session:
        return list(session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "ready")))


def test_an_instance_moves_and_goes_through_the_new_task(env):
    services, world, forms, v1 = env
    instance_id = start(services, world)
    advance(services, instance_id, "approve_qualification")
    v2 = deploy_v2(services, forms, changed_diagram())

    with unit_of_work(services.session_factory, readonly=True) as session:
        before = session.get(Instance, instance_id).lock_version
        [check] = migration.dry_run(session, services.runtime, v2)
    assert check.can_move and check.instance_id == instance_id and (check.from_version, check.to_version) == (1, 2)
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert session.get(Instance, instance_id).lock_version == before  # the dry run wrote nothing

    with unit_of_work(services.session_factory) as session:
        [check] = migration.migrate(session, services.runtime, v2, "admin")
    assert check.moved
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert session.get(Instance, instance_id).definition_id == v2
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "migrate")).one()
        assert audit.actor == "admin" and audit.details["from_version"] == 1 and audit.details["to_version"] == 2
    [waiting] = ready_rows(services, instance_id)
    assert waiting.bpmn_id == "approve_qualification" and waiting.definition_id == v2

    with unit_of_work(services.session_factory) as session:
        complete(services, session, session.get(Task, waiting.id))
    [new_task] = ready_rows(services, instance_id)
    assert new_task.bpmn_id == edits.NEW_TASK and new_task.role == "town_government"
    assert new_task.form_key == edits.NEW_FORM and new_task.definition_id == v2
    with unit_of_work(services.session_factory) as session:
        complete(services, session, session.get(Task, new_task.id), town_budget_ceiling=50000)
    assert [row.bpmn_id for row in ready_rows(services, instance_id)] == ["plan_survey"]
    with unit_of_work(services.session_factory) as session:
        assert migration.dry_run(session, services.runtime, v2) == []  # nothing older is left


def test_an_instance_that_passed_a_removed_element_stays(env):
    services, world, forms, v1 = env
    instance_id = start(services, world)
    advance(services, instance_id, "approve_qualification")
    v2 = deploy_v2(services, forms, edits.remove_catalog_confirmation(edits.original()))
    with unit_of_work(services.session_factory) as session:
        [check] = migration.migrate(session, services.runtime, v2, "admin")
    assert not check.moved and not check.can_move
    assert "has been at" in check.reasons[0] and "confirm_catalog_item" in check.reasons[0]
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert session.get(Instance, instance_id).definition_id == v1
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "migrate")) == 0
    with pytest.raises(ConflictError), unit_of_work(services.session_factory) as session:
        services.runtime.migrate_instance(session, instance_id, v2, "admin")


def test_a_vote_in_progress_moves_and_a_waiting_tally_job_does_not(env):
    services, world, forms, v1 = env
    voting = start(services, world)
    advance(services, voting, "cast_ballot")
    tallying = start(services, world)
    advance(services, tallying, "tally_votes")
    v2 = deploy_v2(services, forms, changed_diagram())

    with unit_of_work(services.session_factory) as session:
        checks = {c.instance_id: c for c in migration.migrate(session, services.runtime, v2, "admin")}
    assert checks[voting].moved
    assert not checks[tallying].moved and "worker job" in checks[tallying].reasons[0]
    assert "tally_votes" in checks[tallying].reasons[0]

    ballots = ready_rows(services, voting)
    assert sorted(row.assignee for row in ballots) == ["rep0", "rep1", "rep2"]
    for row in ballots:
        with unit_of_work(services.session_factory) as session:
            complete(services, session, session.get(Task, row.id), ballot="yes")
    with unit_of_work(services.session_factory, readonly=True) as session:
        job = session.scalars(select(Job).where(Job.instance_id == voting, Job.topic == "vote_tally")).one()
    assert job.variables["params"]["pass_ratio"] == pytest.approx(2 / 3)
    assert sorted(b["voter"] for b in job.variables["params"]["ballots"]) == ["rep0", "rep1", "rep2"]


def test_a_vote_in_progress_survives_a_restart(env, db_url):
    """The same mechanism a migration relies on: ballots cast on a freshly parsed spec count."""
    from tests.conftest import restarted
    services, world, forms, v1 = env
    instance_id = start(services, world)
    advance(services, instance_id, "cast_ballot")
    with restarted(db_url) as fresh:
        for row in ready_rows(fresh, instance_id):
            with unit_of_work(fresh.session_factory) as session:
                complete(fresh, session, session.get(Task, row.id), ballot="yes")
        with unit_of_work(fresh.session_factory, readonly=True) as session:
            assert session.scalars(select(Job.state).where(Job.instance_id == instance_id,
                                                           Job.topic == "vote_tally")).one() == "ready"


def test_instances_of_the_diagram_with_role_key_lanes_move_to_the_chinese_lanes(services):
    """The diagram whose lanes are named in Chinese (the role key in a property), with step
    groups and documentation, is a new version; running instances move onto it and their
    tasks keep going to the same people."""
    bpmn, forms = read_bundle([edits.PROCESSES])
    with unit_of_work(services.session_factory) as session:
        [(v1, _)] = deploy(session, services.runtime.spec_cache,
                           {FILE: edits.as_drawn_before_readable_lanes(bpmn[FILE])}, forms, "admin")
        v1 = v1.id
        world = make_world(session, representatives=3)
    screening = start(services, world)
    advance(services, screening, "approve_qualification")
    voting = start(services, world)
    advance(services, voting, "cast_ballot")
    with unit_of_work(services.session_factory) as session:
        [(v2, created)] = deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
        v2 = v2.id
    assert created and v2 != v1

    with unit_of_work(services.session_factory) as session:
        checks = {c.instance_id: c for c in migration.migrate(session, services.runtime, v2, "admin")}
    assert checks[screening].moved and checks[voting].moved
    [approval] = ready_rows(services, screening)
    assert (approval.bpmn_id, approval.role, approval.definition_id) == ("approve_qualification", "town_government", v2)
    ballots = ready_rows(services, voting)
    assert {(row.bpmn_id, row.role) for row in ballots} == {("cast_ballot", "resident_representative")}

    with unit_of_work(services.session_factory) as session:
        complete(services, session, session.get(Task, approval.id))
    [survey] = ready_rows(services, screening)
    assert (survey.bpmn_id, survey.role) == ("plan_survey", "social_organization")
    for row in ballots:
        with unit_of_work(services.session_factory) as session:
            complete(services, session, session.get(Task, row.id), ballot="yes")
    advance(services, voting, "approve_application")
    [approve] = ready_rows(services, voting)
    assert approve.role == "town_government" and approve.definition_id == v2
