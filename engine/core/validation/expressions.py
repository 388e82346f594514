"""Checks of the code in a diagram: scripts, conditions and other expressions pass
:func:`~engine.core.scripting.check_expression`, and timers are ISO 8601 or expressions
that give ISO 8601 text."""
import ast
import re

from engine.core import spiff
from engine.core.bpmn import NS, Tree, owner
from engine.core.scripting import check_expression
from engine.core.validation.findings import Report
from engine.errors import Text

# (path, mode, what a person calls it) of every place a diagram holds code.
CODE = (("bpmn:script", "exec", "script"), ("spiffworkflow:preScript", "exec", "pre-script"),
        ("spiffworkflow:postScript", "exec", "post-script"),
        ("bpmn:conditionExpression", "eval", "condition"),
        ("bpmn:completionCondition", "eval", "completion condition"),
        ("bpmn:loopCardinality", "eval", "loop cardinality"),
        ("spiffworkflow:messagePayload", "eval", "message payload"))
ISO_LOOKING = re.compile(r"^(R\d*/)?P[0-9YMWDTHS.,]+$|^\d{4}-\d{2}-\d{2}|^R\d*/", re.IGNORECASE)
EXAMPLES = {"timeDuration": "P7D or PT12H", "timeDate": "2027-03-01T09:00:00+08:00",
            "timeCycle": "R3/PT1H or R/2027-03-01T09:00:00+08:00/P1D"}


def check_code(report: Report, tree: Tree) -> None:
    """Every script and expression of the diagram may run."""
    for path, mode, what in CODE:
        for node in tree.getroot().iterfind(f".//{path}", NS):
            element = owner(node)
            for problem in check_expression(node.text or "", mode):
                report.add(element, Text("%(what)s: %(problem)s", what=what, problem=problem), line=node.sourceline)


def check_timers(report: Report, tree: Tree) -> None:
    """Every timer's text is ISO 8601 or an expression that may run."""
    for kind in spiff.TIMER_KINDS:
        for node in tree.getroot().iterfind(f".//bpmn:{kind}", NS):
            message = timer_problem(kind, (node.text or "").strip())
            if message:
                report.add(owner(node), message, line=node.sourceline)


def timer_problem(kind: str, text: str) -> Text | None:
    """What is wrong with a timer's text (None when nothing is). ISO 8601 text is taken as
    the standard writes it (``P7D``); ``=...`` and anything else is a Python expression
    (:func:`spiff.timer_expression`)."""
    if not text or text == "=":
        return Text("the timer has an empty %(kind)s", kind=kind)
    if not text.startswith("=") and spiff.iso_timer_value(kind, text):
        return None
    expression = spiff.timer_expression(kind, text)
    problems = check_expression(expression, "eval")
    if ISO_LOOKING.match(text) or (problems and text[:1] in "PpRr0123456789"):
        return Text("timer %(kind)s '%(text)s' is not valid ISO 8601 (e.g. %(example)s)", kind=kind, text=text,
                    example=EXAMPLES[kind])
    if problems:
        return Text("timer %(kind)s: %(problems)s", kind=kind, problems="; ".join(problems))
    try:
        value: object = ast.literal_eval(expression)
    except ValueError:
        return None  # computed from task data; checked when it runs
    if not isinstance(value, str):
        return Text("timer %(kind)s must give an ISO 8601 text, not %(type)s", kind=kind, type=type(value).__name__)
    if not spiff.iso_timer_value(kind, value):
        return Text("timer %(kind)s '%(text)s' is not valid ISO 8601 (e.g. %(example)s)", kind=kind, text=value,
                    example=EXAMPLES[kind])
    return None
