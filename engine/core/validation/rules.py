"""Sanshe's own rules for a diagram: lanes are roles, tasks carry their step, user tasks
have valid forms and due dates, service tasks have a topic some worker handles and
parameters that may run. None of these stops SpiffWorkflow; they are not structural."""
from collections.abc import Callable, Collection, Mapping

from engine.core import spiff
from engine.core.bpmn import NS, Element, properties
from engine.core.scripting import check_expression
from engine.core.validation.findings import Report
from engine.errors import Text

# topic -> a check of a service task's parameters ({name: expression text}) returning its problems
ParameterChecks = Mapping[str, Callable[[dict[str, str]], list[str]]]

# Tasks people (or workers) do; each must say which of the seven steps it belongs to.
STEP_TASKS = ("userTask", "manualTask", "serviceTask")


def check_lane(report: Report, lane: Element, roles: Collection[str]) -> None:
    """The lane names one of ``roles``, in its ``role`` property or else by its name."""
    prop = properties(lane).get(spiff.ROLE_PROPERTY)
    line = prop.sourceline if prop is not None else None
    role = spiff.lane_role(lane)
    known = ", ".join(sorted(roles))
    if prop is not None and not role:
        report.add(lane, Text("the lane's 'role' property is empty; choose a role in the lane's properties"),
                   line=line)
    elif prop is not None and role not in roles:
        report.add(lane, Text("the lane's role '%(role)s' is not a known role (known: %(known)s)", role=role,
                              known=known), line=line)
    elif not role:
        report.add(lane, Text("the lane has no role: choose one in the lane's properties"))
    elif role not in roles:
        report.add(lane, Text("lane '%(role)s' is not a known role; give it a 'role' property with a role key "
                              "(known: %(known)s)", role=role, known=known))


def check_step(report: Report, task: Element) -> None:
    """The task says which of the seven steps it belongs to (a ``step`` property, 1..7)."""
    prop = properties(task).get("step")
    if prop is None:
        report.add(task, Text("the task has no 'step' property (1..7)"))
        return
    value = (prop.get("value") or "").strip()
    if not (value.isdigit() and 1 <= int(value) <= 7):
        report.add(task, Text("step '%(value)s' is not a number from 1 to 7", value=value), line=prop.sourceline)


def check_form(report: Report, task: Element, forms: Collection[str], valid_forms: Collection[str]) -> None:
    """The user task's form exists among ``forms`` and is valid, and its due date properties
    are what they say."""
    props = properties(task)
    prop = props.get("formJsonSchemaFilename")
    filename = (prop.get("value") or "").strip() if prop is not None else ""
    line = prop.sourceline if prop is not None else None
    if not filename:
        report.add(task, Text("the user task has no form: choose one in its properties"))
    elif filename not in forms:
        report.add(task, Text("form '%(form)s' does not exist", form=filename), line=line)
    elif filename not in valid_forms:
        report.add(task, Text("form '%(form)s' is not a valid JSON Schema (see its own finding)", form=filename),
                   line=line)
    working = props.get("dueInWorkingDays")
    if working is not None and not (working.get("value") or "").strip().isdigit():
        report.add(task, Text("dueInWorkingDays '%(value)s' is not a whole number of working days",
                              value=working.get("value")), line=working.sourceline)
    due = props.get("dueIn")
    if due is not None and not spiff.is_iso_duration(due.get("value") or ""):
        report.add(task, Text("dueIn '%(value)s' is not an ISO 8601 duration like P7D", value=due.get("value")),
                   line=due.sourceline)


def check_service(report: Report, task: Element, topics: Collection[str], parameter_checks: ParameterChecks) -> None:
    """The service task has a topic among ``topics``, its parameters are expressions that may
    run, and they pass the topic's own check in ``parameter_checks``."""
    operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    if operator is None:
        report.add(task, Text("the service task has no topic: choose one in its properties"))
        return
    topic = operator.get("id")
    if topic not in topics:
        report.add(task, Text("no worker handles the service topic '%(topic)s'", topic=topic),
                   line=operator.sourceline)
    params = list(operator.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS))
    for param in params:
        for problem in check_expression(param.get("value") or "", "eval"):
            report.add(task, Text("parameter '%(name)s': %(problem)s", name=param.get("id"), problem=problem),
                       line=param.sourceline)
    check = parameter_checks.get(topic) if topic is not None else None
    if check is not None:
        for problem in check({p.get("id") or "": p.get("value") or "" for p in params}):
            report.add(task, problem, line=operator.sourceline)
