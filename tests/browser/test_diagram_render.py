"""The seven-step diagram as people see it in the modeler (bpmn-js in Chromium): lanes named
in Chinese, one group per step with its title, and each task's rule in its documentation;
saving keeps each lane's role key."""
import re

import pytest

from .conftest import ARTIFACTS

pytestmark = pytest.mark.browser

READ_DIAGRAM = """async () => {
  const registry = window.sanshModeler.get('elementRegistry');
  const text = id => Array.from(document.querySelectorAll(`[data-element-id="${id}"] text, `
      + `[data-element-id="${id}_label"] text`)).map(t => t.textContent).join('');
  return {
    lanes: registry.filter(e => e.type === 'bpmn:Lane').map(e => text(e.id)),
    groups: registry.filter(e => e.type === 'bpmn:Group' && e.width > 0).map(e => text(e.id)),
    documentation: registry.get('tally_votes').businessObject.documentation[0].text,
    xml: (await window.sanshModeler.saveXML()).xml,
  };
}"""


def test_the_modeler_shows_chinese_lanes_and_a_titled_group_per_step(live, admin_page):
    page, errors = admin_page()
    page.goto(f"{live.url}/admin/")
    page.click('tr[data-version="1"] >> a[href*="/edit"]')
    page.wait_for_selector('#modeler[data-ready="true"]', timeout=15_000)
    seen = page.evaluate(READ_DIAGRAM)
    page.screenshot(path=ARTIFACTS / "diagram_steps.png")

    assert sorted(seen["lanes"]) == sorted(["社区居委会", "镇政府/街道办", "社会组织", "居民代表", "评议小组", "社工督导"])
    assert [title[:3] for title in seen["groups"]] == ["第一步", "第二步", "第三步", "第四步", "第五步", "第六步", "第七步"]
    assert "三分之二" in seen["documentation"]
    # saved back unchanged: the lane keeps its role key (what the engine routes tasks by)
    town_lane = re.search(r'<bpmn:lane id="lane_town_government".*?</bpmn:lane>', seen["xml"], re.S).group(0)
    assert re.search(r'<spiffworkflow:property name="role" value="town_government"\s*/>', town_lane)
    assert errors == []
