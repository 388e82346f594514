"""Everything that touches SpiffWorkflow directly: parsing, service tasks, state storage.

Nothing outside ``engine/`` imports SpiffWorkflow; this module is the seam.
"""
import json
from io import BytesIO

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser, VALIDATOR
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.util.task import TaskIterator

# A revise-and-resubmit loop makes the task tree one level deeper per pass; the library's
# iterators stop at depth 1000 and then silently report the workflow as finished. Unlimited
# revision rounds are part of the method, so lift the bound (the iterators are not
# recursive, the depth only costs a counter).
MAX_TREE_DEPTH = 10_000_000
for _iterator in (TaskIterator, BpmnTaskIterator):
    _defaults = list(_iterator.__init__.__defaults__)
    _defaults[1] = MAX_TREE_DEPTH  # (end_at_spec, max_depth, ...)
    _iterator.__init__.__defaults__ = tuple(_defaults)


class ExternalServiceTask(ServiceTask):
    """A service task whose work is done by an external worker.

    Running it records nothing and returns ``None``, which leaves the task STARTED; the
    engine turns every STARTED service task into a job, and completes the task with the
    job's result.
    """

    def _execute(self, task):
        return None

    @property
    def topic(self):
        return self.operation_name


class SanshePythonParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, ExternalServiceTask),
    }


def make_parser(validate=True):
    return SanshePythonParser(validator=VALIDATOR if validate else None)


def parse_process(bpmn_xml, filename="diagram.bpmn", process_id=None, validate=True):
    """Parse one BPMN document; returns ``(process_id, spec, subprocess_specs)``.

    ``process_id`` defaults to the first executable process in the file.
    Raises lxml's ``XMLSyntaxError`` or SpiffWorkflow's ``ValidationException``.
    """
    parser = make_parser(validate)
    data = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
    tree = etree.parse(BytesIO(data))
    parser.add_bpmn_xml(tree, filename=filename)
    if process_id is None:
        process_id = executable_process_ids(tree)[0]
    return process_id, parser.get_spec(process_id), parser.get_subprocess_specs(process_id)


def executable_process_ids(tree):
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    ids = [p.get("id") for p in tree.getroot().findall("bpmn:process", ns) if p.get("isExecutable", "true") == "true"]
    return ids or [p.get("id") for p in tree.getroot().findall("bpmn:process", ns)]


class _StateOnlyConverter(BpmnWorkflowConverter):
    """Stores a workflow's state without its spec; the spec is re-attached from the cache."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct, spec, subprocess_specs):
        workflow = BpmnWorkflow(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _uuid(value):
    from uuid import UUID
    return UUID(value)


class StateStore:
    """Turns a workflow into a JSON string (state only) and back, given its spec."""

    def __init__(self):
        config = dict(SPIFF_CONFIG)
        config[ExternalServiceTask] = ServiceTaskConverter
        self.registry = BpmnWorkflowSerializer.configure(config)
        self.serializer = BpmnWorkflowSerializer(self.registry)
        self.version = self.serializer.VERSION
        self.converter = _StateOnlyConverter(BpmnWorkflow, self.registry)
        self._encoder = self.serializer._encoder_cls

    def dumps(self, workflow):
        self.registry._encoder_mode = True
        try:
            return json.dumps(self.converter.to_dict(workflow), cls=self._encoder, separators=(",", ":"))
        finally:
            self.registry._encoder_mode = False

    def loads(self, state, spec, subprocess_specs):
        return self.converter.restore(json.loads(state), spec, subprocess_specs)
