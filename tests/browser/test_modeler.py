"""An administrator edits the diagram in the bpmn-js modeler in Chromium: adds a task in the
town lane, sets its step and form in the side panel, attaches the new form file, saves, and
finds the next version listed."""
import json
import re

import pytest
from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.core.models import Definition
from tests import diagram_edits as edits

from .conftest import ARTIFACTS

pytestmark = pytest.mark.browser

ADD_TASK = """() => {
  const modeler = window.sanshModeler;
  const registry = modeler.get('elementRegistry');
  const lane = registry.get('lane_town_government');
  const approve = registry.get('approve_qualification');
  const shape = modeler.get('modeling').createShape({type: 'bpmn:UserTask'},
      {x: approve.x + approve.width / 2, y: approve.y + approve.height + 70}, lane);
  modeler.get('selection').select(shape);
  return shape.id;
}"""


def versions(live):
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        return session.scalar(select(func.max(Definition.version)).where(Definition.key == "seven_step_project"))


def test_the_modeler_adds_a_task_and_saves_the_next_version(live, admin_page):
    before = versions(live)
    page, errors = admin_page("en-US", 1400, 1000)

    page.goto(f"{live.url}/admin/")
    page.click(f'tr[data-version="{before}"] >> text=Edit')
    page.wait_for_selector('#modeler[data-ready="true"]', timeout=15_000)
    task_id = page.evaluate(ADD_TASK)
    panel = page.locator("#element-properties")
    assert panel.locator('[data-prop="id"]').input_value() == task_id
    # The new form file is chosen first, so that the panel offers it.
    page.set_input_files('input[name="forms"]', files=[{
        "name": edits.NEW_FORM, "mimeType": "application/json",
        "buffer": json.dumps(edits.NEW_FORM_SCHEMA, ensure_ascii=False).encode()}])
    for prop, value in (("name", "镇政府备案 (Town filing)"), ("dueDays", "3")):
        panel.locator(f'[data-prop="{prop}"]').fill(value)
        panel.locator(f'[data-prop="{prop}"]').press("Tab")
    panel.locator('[data-prop="step"]').select_option("2")
    panel.locator('[data-prop="formJsonSchemaFilename"]').select_option(edits.NEW_FORM)
    page.screenshot(path=ARTIFACTS / "modeler_before_save.png")
    page.click('[data-testid="save"]')
    page.wait_for_url(re.compile(r".*/admin/definitions/\d+$"), timeout=15_000)
    assert f"v{before + 1}" in page.content(), page.locator('[data-testid="findings"]').all_inner_texts()

    page.goto(f"{live.url}/admin/")
    assert page.locator(f'tr[data-version="{before + 1}"]').count() == 1
    page.screenshot(path=ARTIFACTS / "modeler_versions.png", full_page=True)
    assert errors == []
    with unit_of_work(live.services.session_factory, readonly=True) as session:
        saved = session.scalars(select(Definition).where(Definition.version == before + 1)).one()
        xml, forms = saved.bpmn_xml, saved.forms
    assert f'id="{task_id}"' in xml and "镇政府备案" in xml and edits.NEW_FORM in forms
    town_lane = re.search(r'<bpmn:lane id="lane_town_government".*?</bpmn:lane>', xml, re.S).group(0)
    assert f"<bpmn:flowNodeRef>{task_id}</bpmn:flowNodeRef>" in town_lane
    assert re.search(r'<spiffworkflow:property name="step" value="2"\s*/>', xml)
    assert re.search(r'<spiffworkflow:property name="dueIn" value="P3D"\s*/>', xml)
