"""A diagram that fails after a person's action: the person is told why, nothing changes,
and the project can go on once the cause is gone."""
import pytest
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.deployments import deploy
from engine.core.models import Event, Instance, Task, User
from engine.errors import ProcessError
from tests.engine.timer_diagrams import diagram
from tests.factories import make_world

# After the committee's task, a script reads a variable only some projects have.
FAILING = diagram("boundary", "timeDuration", "P7D", key="fails_after_wait").replace(
    '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="e" />',
    '<bpmn:scriptTask id="check" name="Check"><bpmn:script>checked = project["budget"] + 1</bpmn:script>'
    '</bpmn:scriptTask><bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="check" />'
    '<bpmn:sequenceFlow id="f2b" sourceRef="check" targetRef="e" />').replace(
    "<bpmn:flowNodeRef>e2</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>e2</bpmn:flowNodeRef><bpmn:flowNodeRef>check</bpmn:flowNodeRef>")


def test_a_script_failing_after_a_task_is_a_clear_error_and_changes_nothing(services):
    with unit_of_work(services.session_factory) as session:
        deploy(session, services.runtime.spec_cache, {"fails.bpmn": FAILING}, {}, "admin")
        world = make_world(session)
        org = session.get(User, world.users.org.id)
        instance_id = services.runtime.start_instance(session, "fails_after_wait", org, {
            "title": "预算", "organization_id": world.org.id, "catalog_item_id": world.item.id}).id
    with unit_of_work(services.session_factory, readonly=True) as session:
        task_id = session.scalar(select(Task.id).where(Task.instance_id == instance_id))
        events = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    for _ in range(2):  # the same answer again: the first attempt left nothing behind
        with pytest.raises(ProcessError) as refused:
            with unit_of_work(services.session_factory) as session:
                services.runtime.complete_task(session, task_id, session.get(User, world.users.committee.id), {})
        assert "The process cannot go on from here" in str(refused.value) and "budget" in str(refused.value)
    with unit_of_work(services.session_factory, readonly=True) as session:
        assert session.get(Task, task_id).state == "ready"
        assert session.get(Instance, instance_id).status == "running"
        assert session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) == events
