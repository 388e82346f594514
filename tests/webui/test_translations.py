"""The Chinese interface: every message of the templates, the views and the engine's errors
has a translation, and the compiled catalog the server loads is the one in the source."""
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
WEBUI = ROOT / "webui"
ZH = WEBUI / "translations" / "zh" / "LC_MESSAGES"


def catalog():
    with open(ZH / "messages.po", "rb") as handle:
        return read_po(handle)


def test_every_message_in_the_code_has_a_chinese_translation():
    translated = {message.id for message in catalog() if message.id and message.string and not message.fuzzy}
    with open(WEBUI / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    # The same keywords as `make translations`: views' gettext and the engine's messages.
    makefile = (ROOT / "Makefile").read_text()
    declared = re.search(r"^BABEL_KEYWORDS = (.*?[^\\])$", makefile, re.M | re.S).group(1)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2),
                **{name: None for name in re.findall(r"-k (\w+)", declared)}}
    assert {"Text", "NotFoundError"} <= set(keywords)
    found = {message if isinstance(message, str) else message[0]
             for _file, _line, message, _comments, _context in
             extract_from_dir(ROOT, method_map, options_map, keywords=keywords)
             if message}
    missing = sorted(found - translated)
    assert found and not missing, f"untranslated: {missing[:10]}"


def test_the_compiled_catalog_matches_its_source():
    with open(ZH / "messages.mo", "rb") as handle:
        compiled = {message.id: message.string for message in read_mo(handle) if message.id}
    source = {message.id: message.string for message in catalog() if message.id and message.string}
    assert compiled == source
