"""Diagram scripts and conditions run restricted: escapes fail, ordinary expressions work."""
import threading
import time
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.config import load_settings
from engine.core.scripting import (
    RestrictedEnvironment, ScriptLimitError, ScriptRejected, ScriptTimeout, check_expression,
    make_script_engine,
)
from engine.core.spiff import parse_process

VALID = Path(__file__).resolve().parent.parent / "data" / "validation" / "valid.bpmn"


@pytest.fixture
def env():
    return RestrictedEnvironment(timeout=0.3)


@pytest.mark.parametrize("expression, data, expected", [
    ("vote_result['passed'] == True", {"vote_result": {"passed": True}}, True),
    ("len(ballots) > 0", {"ballots": []}, False),
    ("sum(b['score'] for b in ballots) / len(ballots)", {"ballots": [{"score": 80}, {"score": 90}]}, 85),
    ("yes >= Fraction(2, 3) * total", {"yes": 2, "total": 3}, True),
    ("max(scores) - min(scores)", {"scores": [3, 9, 4]}, 6),
    ("sorted(names, key=lambda n: n.lower())[0]", {"names": ["b", "A"]}, "A"),
    ("f'{title} ({round(ratio * 100)}%)'", {"title": "Park", "ratio": 0.666}, "Park (67%)"),
    ("(datetime(2024, 1, 1) + timedelta(days=7)).isoformat()", {}, "2024-01-08T00:00:00"),
    ("max + 1", {"max": 4}, 5),
])
def test_ordinary_expressions_evaluate(env, expression, data, expected):
    assert check_expression(expression) == []
    assert env.evaluate(expression, data) == expected


def test_scripts_change_task_data_and_leave_no_functions_behind(env):
    data = {"revision_rounds": 2, "ballots": [1, 0, 1]}
    env.execute("revision_rounds = revision_rounds + 1\nyes = len([b for b in ballots if b])\n"
                "double = lambda x: x * 2\nrevision_rounds += 1", data)
    assert data == {"revision_rounds": 4, "ballots": [1, 0, 1], "yes": 2}


@pytest.mark.parametrize("source, problem", [
    ("__import__('os').system('id')", "'__import__' is not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "private attribute '__subclasses__'"),
    ("open('/etc/passwd').read()", "'open' is not available"),
    ("getattr(x, '__cl' + 'ass__')", "'getattr' is not available"),
    ("eval('1 + 1')", "'eval' is not available"),
    ("exec('x = 1')", "'exec' is not available"),
    ("compile('1', 'f', 'eval')", "'compile' is not available"),
    ("globals()['x']", "'globals' is not available"),
    ("vars(x)", "'vars' is not available"),
    ("type(x)", "'type' is not available"),
    ("__builtins__['open']", "'__builtins__' is not allowed"),
    ("(lambda: x.__globals__)()", "private attribute '__globals__'"),
    ("(lambda __x: 1)(1)", "name '__x' is not allowed"),
    ("'{0.__class__}'.format(x)", "attribute 'format' is not allowed"),
    ("'{0.__class__}'.format_map({})", "attribute 'format_map' is not allowed"),
    ("(y for y in [1]).gi_frame.f_back", "attribute 'gi_frame' is not allowed"),
    ("x._private", "private attribute '_private'"),
    ("f'{x:>999999999}'", "format width or precision above"),
    ("int.mro()", "attribute 'mro' is not allowed"),
])
def test_escapes_are_refused_before_running(env, source, problem):
    problems = check_expression(source)
    assert any(problem in p for p in problems), problems
    with pytest.raises(ScriptRejected, match="not"):
        env.evaluate(source, {"x": 1})


@pytest.mark.parametrize("script, problem", [
    ("import os", "imports are not allowed"),
    ("from os import path", "imports are not allowed"),
    ("class A:\n    pass", "class definitions are not allowed"),
    ("try:\n    x = 1\nexcept:\n    pass", "bare 'except:'"),
    ("try:\n    x = 1\nfinally:\n    x = 2", "'finally' is not allowed"),
    ("def gen():\n    yield 1", "generators"),
    ("with x:\n    pass", "'with' is not allowed"),
    ("x = 1\nimport sys", "line 2: imports are not allowed"),
    ("x = (", "syntax error"),
])
def test_script_statements_that_could_escape_are_refused(script, problem):
    assert any(problem in p for p in check_expression(script, "exec")), check_expression(script, "exec")


@pytest.mark.parametrize("source", [
    "10**10**10", "[0] * 10**9", "'x' * 10**8", "1 << 10**9", "range(10**10)",
    "Fraction(3, 2) ** 10**7", "'%s' % x",
])
def test_huge_values_are_refused_quickly(env, source):
    started = time.monotonic()
    with pytest.raises(ScriptLimitError):
        env.evaluate(source, {"x": 1})
    assert time.monotonic() - started < 0.2


def test_doubling_in_a_loop_is_refused(env):
    with pytest.raises(ScriptLimitError):
        env.execute("s = 'x'\nfor i in range(64):\n    s += s", {})


@pytest.mark.parametrize("script", [
    "while True: pass",
    "while True:\n    try:\n        x = 1\n    except Exception:\n        pass",
    "def spin():\n    while True:\n        pass\nspin()",
    "x = [i for i in range(10**6) for j in range(10**6)]",
    "any(False for i in range(10**6) for j in range(10**6))",
])
def test_endless_scripts_are_stopped(env, script):
    started = time.monotonic()
    with pytest.raises(ScriptTimeout, match="was stopped"):
        env.execute(script, {})
    assert time.monotonic() - started < 1.5


def test_endless_script_is_stopped_in_a_worker_thread(env):
    outcome = []

    def run():
        try:
            env.execute("while True: pass", {})
        except ScriptTimeout as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive() and len(outcome) == 1


def _workflow(timeout=0.3):
    _, spec, subprocess_specs = parse_process(VALID.read_bytes())
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=make_script_engine(timeout))
    workflow.do_engine_steps()
    return workflow


def _run_to_gateway(workflow, script=None, data=None):
    propose = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    propose.data.update(revision_rounds=0, **(data or {}))
    if script:
        workflow.spec.task_specs["Task_tally"].script = script
    propose.run()
    workflow.do_engine_steps()
    count = workflow.get_tasks(state=TaskState.STARTED)[0]
    count.data["vote_result"] = {"passed": True}
    count.complete()
    workflow.do_engine_steps()


def test_diagram_runs_its_script_and_condition_with_the_restricted_engine():
    workflow = _workflow()
    _run_to_gateway(workflow)
    (sign,) = workflow.get_tasks(state=TaskState.READY, manual=True)
    assert sign.task_spec.bpmn_id == "Task_sign"
    assert sign.data["revision_rounds"] == 1


@pytest.mark.parametrize("script, message", [
    ("revision_rounds = __import__('os').getpid()", "'__import__' is not allowed"),
    ("while True: pass", "was stopped"),
])
def test_a_diagram_script_that_escapes_fails_its_task(script, message):
    workflow = _workflow()
    with pytest.raises(WorkflowTaskException, match=message) as raised:
        _run_to_gateway(workflow, script=script)
    assert raised.value.task.task_spec.bpmn_id == "Task_tally"


def test_settings_give_the_timeout():
    engine = make_script_engine(load_settings(script_timeout=0.2))
    assert engine.environment.timeout == 0.2
