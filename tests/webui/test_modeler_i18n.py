"""The modeler's Chinese covers every text bpmn-js shows (palette, context pad, menus)."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BPMN_JS = ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-modeler.development.js"
ZH = (ROOT / "webui" / "static" / "modeler-i18n.js").read_text(encoding="utf-8")


def shown_texts(source):
    """The texts bpmn-js passes to its translate service: translate('...') calls, the labels
    of the replace menu, and the alignment titles built from a prefix."""
    texts = set(re.findall(r"translate\(\s*'([^']+)'", source))
    texts |= set(re.findall(r"label: '([^']+)'", source))
    texts |= {"Empty pool/participant", "Empty pool/participant (removes content)"}
    texts |= {f"Align elements {side}" for side in ("left", "center", "right", "top", "middle", "bottom")}
    texts.discard("Align elements ")
    return {t for t in texts if not t.startswith("HELLO")}  # a sample text in a comment


@pytest.mark.skipif(not BPMN_JS.exists(), reason="node_modules is not installed (npm install)")
def test_every_text_of_the_modeler_has_a_chinese_translation():
    translated = set(re.findall(r'^\s*"([^"]+)":', ZH, re.M))
    missing = sorted(shown_texts(BPMN_JS.read_text(encoding="utf-8")) - translated)
    assert missing == []


def test_the_edit_page_loads_the_translation_before_the_modeler_script(web, as_user):
    page = as_user("admin").get("/admin/definitions/1/edit").get_data(as_text=True)
    assert page.index("modeler-i18n.js") < page.index("admin-modeler.js")
    config = json.loads(re.search(r'<script type="application/json" id="modeler-config">(.*?)</script>', page,
                                  re.S).group(1))
    assert config["locale"] == "zh" and config["steps"][3]["label"].startswith("第四步")
    tally = next(t for t in config["topics"] if t["key"] == "vote_tally")
    assert tally["label"] == "计票" and "pass_ratio" in [p["name"] for p in tally["params"]]
