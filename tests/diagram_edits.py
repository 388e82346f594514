"""Edits an administrator makes to the seven-step diagram, done on the XML as a modeler would.

Each function takes the diagram text and returns the changed text; the real diagram in
processes/ is never touched.
"""
from pathlib import Path

from lxml import etree

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI, "spiffworkflow": SPIFF}

NEW_TASK = "confirm_budget_ceiling"
NEW_FORM = "confirm_budget_ceiling.schema.json"
NEW_FORM_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "确认预算上限",
    "x-title-en": "Confirm the budget ceiling",
    "type": "object",
    "properties": {
        "town_budget_ceiling": {"type": "number", "title": "预算上限（元）", "x-title-en": "Ceiling (yuan)",
                                "minimum": 0, "x-widget": "money"},
    },
    "required": ["town_budget_ceiling"],
    "additionalProperties": False,
}


def original():
    return (PROCESSES / "seven_step_project.bpmn").read_text(encoding="utf-8")


def _tree(xml):
    return etree.fromstring(xml.encode("utf-8"))


def _text(root):
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


def _one(root, path):
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, len(found))
    return found[0]


def _el(tag, **attrs):
    prefix, name = tag.split(":")
    return etree.Element(f"{{{NS[prefix]}}}{name}", {k: str(v) for k, v in attrs.items()})


def insert_town_task(xml, task_id=NEW_TASK, form=NEW_FORM, name="镇政府确认预算上限 (Confirm budget ceiling)"):
    """A new user task in the town lane between the qualification approval (step 1) and
    the needs survey (step 2): the approving flow now leads to it, and it leads on to the survey."""
    root = _tree(xml)
    process = _one(root, "//bpmn:process[@id='seven_step_project']")
    flow = _one(process, "bpmn:sequenceFlow[@id='flow_gw_qualification_to_plan_survey']")
    flow.set("targetRef", task_id)
    new_flow_id = f"flow_{task_id}_to_plan_survey"
    task = _el("bpmn:userTask", id=task_id, name=name)
    ext = etree.SubElement(task, f"{{{BPMN}}}extensionElements")
    props = etree.SubElement(ext, f"{{{SPIFF}}}properties")
    for key, value in (("step", "2"), ("formJsonSchemaFilename", form), ("dueIn", "P3D")):
        etree.SubElement(props, f"{{{SPIFF}}}property", name=key, value=value)
    etree.SubElement(task, f"{{{BPMN}}}incoming").text = "flow_gw_qualification_to_plan_survey"
    etree.SubElement(task, f"{{{BPMN}}}outgoing").text = new_flow_id
    flow.addprevious(task)
    # beside the other flows: the schema wants flow elements before artifacts (the step groups)
    flow.addnext(_el("bpmn:sequenceFlow", id=new_flow_id, sourceRef=task_id, targetRef="plan_survey"))
    survey_in = _one(process, "bpmn:userTask[@id='plan_survey']/bpmn:incoming")
    survey_in.text = new_flow_id
    lane = _one(process, "bpmn:laneSet/bpmn:lane[@id='lane_town_government']")
    etree.SubElement(lane, f"{{{BPMN}}}flowNodeRef").text = task_id
    plane = _one(root, "//bpmndi:BPMNPlane")
    anchor = _one(plane, "bpmndi:BPMNShape[@bpmnElement='approve_qualification']/dc:Bounds")
    x, y = float(anchor.get("x")) + 160, float(anchor.get("y"))
    shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{task_id}_di", bpmnElement=task_id)
    etree.SubElement(shape, f"{{{DC}}}Bounds", x=str(x), y=str(y), width="100", height="80")
    edge = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{new_flow_id}_di", bpmnElement=new_flow_id)
    etree.SubElement(edge, f"{{{DI}}}waypoint", x=str(x + 100), y=str(y + 40))
    etree.SubElement(edge, f"{{{DI}}}waypoint", x=str(x + 200), y=str(y + 40))
    return _text(root)


def set_param(xml, task_id, param, value):
    """Change a service task parameter (a Python expression) in the diagram."""
    root = _tree(xml)
    _one(root, f"//bpmn:serviceTask[@id='{task_id}']//spiffworkflow:parameter[@id='{param}']").set("value", value)
    return _text(root)


def element_line(xml, element_id):
    """The source line of the BPMN element with ``element_id`` (what a finding must name)."""
    return _one(_tree(xml), f"//bpmn:*[@id='{element_id}']").sourceline


def remove_catalog_confirmation(xml):
    """Drop the first task (confirm_catalog_item): the start leads straight to the screening."""
    root = _tree(xml)
    process = _one(root, "//bpmn:process[@id='seven_step_project']")
    _one(process, "bpmn:sequenceFlow[@id='flow_start_to_confirm_catalog_item']").set("targetRef", "gw_screening_merge")
    merge_in = _one(process, "bpmn:exclusiveGateway[@id='gw_screening_merge']"
                             "/bpmn:incoming[text()='flow_confirm_catalog_item_to_gw_screening_merge']")
    merge_in.text = "flow_start_to_confirm_catalog_item"
    for path in ("bpmn:userTask[@id='confirm_catalog_item']",
                 "bpmn:sequenceFlow[@id='flow_confirm_catalog_item_to_gw_screening_merge']",
                 "bpmn:laneSet//bpmn:flowNodeRef[text()='confirm_catalog_item']",
                 "//bpmndi:BPMNShape[@bpmnElement='confirm_catalog_item']",
                 "//bpmndi:BPMNEdge[@bpmnElement='flow_confirm_catalog_item_to_gw_screening_merge']"):
        node = _one(process if not path.startswith("//") else root, path)
        node.getparent().remove(node)
    return _text(root)


def remove_param(xml, task_id, param):
    """Drop a service task parameter, as in a diagram written before the parameter existed."""
    root = _tree(xml)
    element = _one(root, f"//bpmn:serviceTask[@id='{task_id}']//spiffworkflow:parameter[@id='{param}']")
    element.getparent().remove(element)
    return _text(root)


def as_drawn_before_readable_lanes(xml):
    """The diagram as it was before its lanes were named in Chinese: each lane named by its
    role key with no ``role`` property, and no step groups or documentation."""
    root = _tree(xml)
    for lane in root.iterfind(".//bpmn:lane", NS):
        prop = _one(lane, "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='role']")
        lane.set("name", prop.get("value"))
        lane.remove(lane.find("bpmn:extensionElements", NS))
    for path in (".//bpmn:group", "bpmn:category", ".//bpmn:documentation"):
        for element in root.iterfind(path, NS):
            element.getparent().remove(element)
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        if shape.get("bpmnElement", "").startswith("group_"):
            shape.getparent().remove(shape)
    return _text(root)
