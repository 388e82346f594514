"""Small diagrams with one timer each, in every place the BPMN standard allows one.

``diagram(place, kind, text)`` gives the XML of process ``timer_<place>`` whose timer of
``kind`` (``timeDuration``, ``timeDate`` or ``timeCycle``) reads ``text``. Every diagram
has the manual task ``wait`` (community committee) where it matters, and says what the
timer did through the manual task it leads to (``after``, ``late`` or ``remind``).
"""
from xml.sax.saxutils import escape

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="Definitions_{key}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{key}" name="Timer {place}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{key}">
      <bpmn:lane id="Lane_{key}" name="community_committee">{refs}</bpmn:lane>
    </bpmn:laneSet>
"""
TAIL = """  </bpmn:process>
</bpmn:definitions>
"""


def _task(task_id, name, incoming=None, outgoing=None):
    return (f'    <bpmn:manualTask id="{task_id}" name="{name}">'
            '<bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="step" value="3" />'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:manualTask>\n')


def _timer(kind, text):
    return f"<bpmn:timerEventDefinition><bpmn:{kind}>{escape(text)}</bpmn:{kind}></bpmn:timerEventDefinition>"


def _flow(flow_id, source, target):
    return f'    <bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />\n'


def diagram(place, kind, text, key=None, script=None):
    """The XML of process ``key`` (default ``timer_<place>``); places: intermediate, boundary,
    boundary_non_interrupting, event_subprocess, event_subprocess_non_interrupting, start.
    With ``script`` (intermediate only), a script task runs it between the timer and ``after``."""
    key = key or f"timer_{place}"
    timer = _timer(kind, text)
    body, nodes = "", []
    if place == "intermediate":
        nodes = ["s", "t", "after", "e"] + (["check"] if script else [])
        body = ('    <bpmn:startEvent id="s" />\n'
                f'    <bpmn:intermediateCatchEvent id="t" name="Wait">{timer}</bpmn:intermediateCatchEvent>\n'
                + _task("after", "After the wait") + '    <bpmn:endEvent id="e" />\n'
                + _flow("f1", "s", "t") + _flow("f3", "after", "e"))
        if script:
            body += (f'    <bpmn:scriptTask id="check" name="Check"><bpmn:script>{escape(script)}</bpmn:script>'
                     '</bpmn:scriptTask>\n' + _flow("f2", "t", "check") + _flow("f2b", "check", "after"))
        else:
            body += _flow("f2", "t", "after")
    elif place in ("boundary", "boundary_non_interrupting"):
        interrupting = place == "boundary"
        follow = "late" if interrupting else "remind"
        nodes = ["s", "wait", "t", follow, "e", "e2"]
        body = ('    <bpmn:startEvent id="s" />\n' + _task("wait", "Wait for the committee")
                + f'    <bpmn:boundaryEvent id="t" name="Deadline" attachedToRef="wait" '
                  f'cancelActivity="{"true" if interrupting else "false"}">{timer}</bpmn:boundaryEvent>\n'
                + _task(follow, "Too late" if interrupting else "Reminder")
                + '    <bpmn:endEvent id="e" />\n    <bpmn:endEvent id="e2" />\n'
                + _flow("f1", "s", "wait") + _flow("f2", "wait", "e") + _flow("f3", "t", follow)
                + _flow("f4", follow, "e2"))
    elif place in ("event_subprocess", "event_subprocess_non_interrupting"):
        interrupting = place == "event_subprocess"
        follow = "late" if interrupting else "remind"
        nodes = ["s", "wait", "e", "sub"]
        body = ('    <bpmn:startEvent id="s" />\n' + _task("wait", "Wait for the committee")
                + '    <bpmn:endEvent id="e" />\n' + _flow("f1", "s", "wait") + _flow("f2", "wait", "e")
                + '    <bpmn:subProcess id="sub" name="Escalation" triggeredByEvent="true">\n'
                + f'      <bpmn:startEvent id="t" name="Deadline" isInterrupting="{"true" if interrupting else "false"}">'
                  f'{timer}</bpmn:startEvent>\n'
                + _task(follow, "Too late" if interrupting else "Reminder")
                + '      <bpmn:endEvent id="e2" />\n' + _flow("f3", "t", follow) + _flow("f4", follow, "e2")
                + '    </bpmn:subProcess>\n')
    elif place == "start":
        nodes = ["t", "after", "e"]
        body = (f'    <bpmn:startEvent id="t" name="At the set time">{timer}</bpmn:startEvent>\n'
                + _task("after", "After the wait") + '    <bpmn:endEvent id="e" />\n'
                + _flow("f1", "t", "after") + _flow("f2", "after", "e"))
    else:
        raise ValueError(place)
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
    return HEAD.format(key=key, place=place, refs=refs) + body + TAIL
