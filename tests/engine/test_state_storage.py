"""Instance state stored as its open part plus parts of finished tasks."""
import gc
import json
import weakref
from datetime import datetime
from pathlib import Path
from uuid import UUID

from sqlalchemy import delete, func, select, update

from engine.core import spiff
from engine.core.db import unit_of_work
from engine.core.models import Instance, Job, StatePart
from engine.core.spiff_state import StateStore
from tests.conftest import restarted
from tests.engine import seven_step_memory
from tests.engine.test_runtime import complete, drive_rounds, open_task, start


def stored(services, instance_id):
    """``(row state length, number of parts)``."""
    with unit_of_work(services.session_factory, readonly=True) as session:
        length = session.scalar(select(func.length(Instance.state)).where(Instance.id == instance_id))
        parts = session.scalar(select(func.count()).select_from(StatePart).where(StatePart.instance_id == instance_id))
    return length, parts


def loaded_document(services, instance_id):
    """The whole state of the instance as a new engine reads it from the database."""
    with unit_of_work(services.session_factory, readonly=True) as session:
        instance = session.get(Instance, instance_id)
        definition = services.runtime.spec_cache.definition(session, instance.definition_id)
        workflow = services.runtime._restore(session, instance, definition)
    return document_of(services, workflow), workflow


def document_of(services, workflow):
    """The workflow's whole state as one document, each task with its full data (whether a
    task's data is stored whole or as a difference to its parent's is storage detail)."""
    store = services.runtime.state_store
    document = json.loads(store.dumps(workflow))
    for key, wf in (("", workflow), *workflow.subprocesses.items()):
        target = document if key == "" else document["subprocesses"][str(key)]
        for task_id, task in target["tasks"].items():
            task.pop("delta", None)
            task["data"] = json.loads(json.dumps(store.registry.convert(wf.tasks[UUID(task_id)].data)))
    return document


def hot_workflow(services, instance_id):
    with unit_of_work(services.session_factory, readonly=True) as session:
        version = session.scalar(select(Instance.lock_version).where(Instance.id == instance_id))
    workflow, open_sets = services.runtime.hot.take(instance_id, version)
    assert workflow is not None
    services.runtime.hot.put(instance_id, version, workflow, open_sets)
    return workflow


def test_a_new_engine_reads_exactly_the_state_the_running_one_had(env, db_url):
    services, world = env
    instance_id = start(services, world)
    drive_rounds(services, world, instance_id, 3)
    running = hot_workflow(services, instance_id)
    in_memory = document_of(services, running)
    with restarted(db_url) as fresh:
        document, loaded = loaded_document(fresh, instance_id)
        assert document == in_memory
    # Every task's data, finished ones included (stored as differences to their parents),
    # comes back as it was.
    assert task_data(loaded) == task_data(running)
    assert len(task_data(running)) > 10


def task_data(workflow):
    return {(str(key), str(task.id)): task.data
            for key, wf in (("", workflow), *workflow.subprocesses.items()) for task in wf.tasks.values()}


def test_the_row_keeps_only_open_tasks_and_parts_are_folded_together(env, db_url):
    services, world = env
    services.runtime.state_store.compact_every = 6
    instance_id = start(services, world)
    drive_rounds(services, world, instance_id, 2)
    early_length, _ = stored(services, instance_id)
    second = start(services, world)
    drive_rounds(services, world, second, 30)
    late_length, parts = stored(services, second)
    # 30 rounds of history did not make the row grow, and the parts were folded.
    assert late_length < early_length * 1.5
    assert 1 <= parts <= 6
    with restarted(db_url) as fresh:
        document, _ = loaded_document(fresh, second)
        assert document == document_of(services, hot_workflow(services, second))


def test_a_stored_finished_task_that_changes_is_stored_anew(env, db_url):
    services, world = env
    users = world.users
    instance_id = start(services, world)
    complete(services, users.org.id, open_task(services, instance_id, "write").id, {"summary": "第一稿"})
    complete(services, users.committee.id, open_task(services, instance_id, "consult").id, {"outcome": "revise"})
    assert stored(services, instance_id)[1] > 1
    workflow = hot_workflow(services, instance_id)
    finished = next(t for t in workflow.tasks.values() if t.task_spec.name == "write")
    finished.last_state_change += 1.5  # how an administrator's reset of a finished task looks to storage
    changed = finished.last_state_change
    # The next step notices, replaces the old parts and stores the finished tasks again.
    complete(services, users.org.id, open_task(services, instance_id, "revise").id, {"summary": "第二稿"})
    assert stored(services, instance_id)[1] == 1
    with restarted(db_url) as fresh:
        _, loaded = loaded_document(fresh, instance_id)
        assert loaded.tasks[finished.id].last_state_change == changed
        assert open_task(fresh, instance_id).bpmn_id == "consult"


def test_an_instance_stored_whole_before_parts_existed_still_loads_and_moves_on(env, db_url):
    services, world = env
    users = world.users
    instance_id = start(services, world)
    complete(services, users.org.id, open_task(services, instance_id, "write").id, {"summary": "第一稿"})
    whole = services.runtime.state_store.dumps(hot_workflow(services, instance_id))
    with unit_of_work(services.session_factory) as session:  # as an older release left it: one document
        session.execute(delete(StatePart).where(StatePart.instance_id == instance_id))
        session.execute(update(Instance).where(Instance.id == instance_id).values(state=whole))
    with restarted(db_url) as fresh:
        complete(fresh, users.committee.id, open_task(fresh, instance_id, "consult").id, {"outcome": "revise"})
        assert stored(fresh, instance_id)[1] == 1  # the history moved out of the row
        complete(fresh, users.org.id, open_task(fresh, instance_id, "revise").id, {"summary": "第二稿"})
        assert open_task(fresh, instance_id).bpmn_id == "consult"


def test_a_script_changing_a_nested_value_reads_back_as_it_runs():
    """SpiffWorkflow copies task data one level deep, so a script changing ``d["inner"]``
    also changes it in earlier tasks. What the open task sees must come back unchanged from
    storage, whatever was stored before the change."""
    diagram = (Path(__file__).resolve().parent.parent / "data" / "engine" / "nested_change.bpmn").read_text()
    _, spec, subprocess_specs = spiff.parse_process(diagram, validate=False)
    store = StateStore()
    workflow = spiff.new_workflow(spec, subprocess_specs, None, {})
    parts = []

    def save():
        saved = store.save(workflow)
        if saved.rewrite:
            parts.clear()
        if saved.part:
            parts.append(saved.part)
        return saved.state

    workflow.do_engine_steps()
    save()
    human, _, _ = spiff.open_tasks(workflow)
    spiff.run_user_task(next(iter(human)), {})
    workflow.do_engine_steps()
    state = save()
    (waiting,), _, _ = spiff.open_tasks(workflow)
    assert waiting.data["d"] == {"inner": {"k": 2}}
    loaded = store.loads(state, list(parts), spec, subprocess_specs)
    assert loaded.get_task_from_id(waiting.id).data == waiting.data


def test_dates_inside_task_data_read_back_as_dates_and_loads_share_nothing():
    diagram = (Path(__file__).resolve().parent.parent / "data" / "engine" / "nested_change.bpmn").read_text()
    _, spec, subprocess_specs = spiff.parse_process(diagram, validate=False)
    store = StateStore()
    when = datetime(2027, 3, 1, 9, 30)
    workflow = spiff.new_workflow(spec, subprocess_specs, None, {"plan": {"phases": [{"start": when, "tags": ["a"]}]}})
    workflow.do_engine_steps()
    saved = store.save(workflow)
    first, second = (store.loads(saved.state, [saved.part] if saved.part else [], spec, subprocess_specs)
                     for _ in range(2))
    for loaded in (first, second):
        for task in loaded.get_tasks():
            assert task.data == workflow.get_task_from_id(task.id).data
    task = next(t for t in first.get_tasks() if t.data.get("plan"))
    assert type(task.data["plan"]["phases"][0]["start"]) is datetime
    task.data["plan"]["phases"][0]["tags"].append("b")
    assert second.get_task_from_id(task.id).data["plan"]["phases"][0]["tags"] == ["a"]


def test_task_data_of_plain_values_reads_back_the_same_and_text_never_passes_for_a_date():
    """Documents without typed values in task data are read without walking that data;
    text that looks like a stored date stays text, and a date stored later is a date."""
    diagram = (Path(__file__).resolve().parent.parent / "data" / "engine" / "nested_change.bpmn").read_text()
    _, spec, subprocess_specs = spiff.parse_process(diagram, validate=False)
    store = StateStore()
    looks_typed = '{"typename":"datetime","value":"2027-03-01T09:30:00"}'
    workflow = spiff.new_workflow(spec, subprocess_specs, None,
                                  {"note": looks_typed, "plan": {"phases": [{"tags": ["a"], looks_typed: 1}]}})
    workflow.do_engine_steps()
    first = store.save(workflow)
    loaded = store.loads(first.state, [first.part] if first.part else [], spec, subprocess_specs)
    for task in loaded.get_tasks():
        assert task.data == workflow.get_task_from_id(task.id).data
    assert next(t for t in loaded.get_tasks() if t.data.get("note")).data["note"] == looks_typed

    human, _, _ = spiff.open_tasks(workflow)
    when = datetime(2027, 3, 1, 9, 30)
    spiff.run_user_task(next(iter(human)), {"when": when})
    workflow.do_engine_steps()
    second = store.save(workflow)
    parts = [part for part in (first.part, second.part) if part]
    loaded = store.loads(second.state, [] if second.rewrite else parts, spec, subprocess_specs)
    dated = [t for t in loaded.get_tasks() if "when" in t.data]
    assert dated and all(type(t.data["when"]) is datetime and t.data["when"] == when for t in dated)
    (waiting,), _, _ = spiff.open_tasks(workflow)  # what runs next sees what ran before it
    assert loaded.get_task_from_id(waiting.id).data == waiting.data


def test_steps_that_each_load_their_instance_free_the_workflow_they_leave(env):
    services, world = env
    hot = services.runtime.hot
    hot.capacity = 0  # every step loads its instance from the database
    left: list[weakref.ref] = []
    release = hot.release
    hot.release = lambda workflow: (left.append(weakref.ref(workflow)), release(workflow))
    gc.disable()
    try:
        instance_id = start(services, world)
        drive_rounds(services, world, instance_id, 2)
        assert len(left) >= 6
        assert [ref() for ref in left] == [None] * len(left)
    finally:
        gc.enable()
    with unit_of_work(services.session_factory, readonly=True) as session:  # the project moved on
        assert session.scalars(select(Job.topic).where(Job.instance_id == instance_id)).all() == ["eligibility_check"]


def test_an_instance_cut_at_every_step_and_stored_in_parts_loads_with_its_whole_tree():
    """Finished runs are cut out of the tree between steps; the task above a cut gets a new
    child. Loaded after each step from what was stored, the workflow has the same tasks,
    links and data as the one kept in memory, and goes on to the same end."""
    from engine.method.driver import default_choices
    workflow, spec, subprocess_specs, forms = seven_step_memory.start()
    store = StateStore()
    choices, parts, cuts = default_choices(rounds=3), [], 0
    while not workflow.is_completed():
        human, services, _ = spiff.open_tasks(workflow)
        seven_step_memory.complete_next(human, services, forms, choices)
        workflow.do_engine_steps()
        relinked = spiff.prune_finished_runs(workflow, keep=2, batch=2)
        cuts += bool(relinked)
        store.relinked(workflow, relinked)
        saved = store.save(workflow)
        if saved.rewrite:
            parts.clear()
        if saved.part:
            parts.append(saved.part)
        loaded = store.loads(saved.state, list(parts), spec, subprocess_specs)
        for wf, back in [(workflow, loaded), *((sub, loaded.subprocesses[k]) for k, sub in workflow.subprocesses.items())]:
            assert {t.id: (t.state, t._parent, t._children, t.data) for t in wf.tasks.values()} == \
                   {t.id: (t.state, t._parent, t._children, t.data) for t in back.tasks.values()}
    assert cuts > 5 and "验收通过 (Accepted)" in spiff.reached_end_events(workflow)
    loaded.do_engine_steps()
    assert loaded.is_completed() and spiff.reached_end_events(loaded) == spiff.reached_end_events(workflow)
