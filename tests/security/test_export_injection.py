"""Exports stay valid files and inert spreadsheets whatever people type into titles and names."""
import csv
import io
import json
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import Event
from engine.mining.exports import iter_export
from tests.webui.conftest import start_project

HOSTILE_TITLE = "养老\x01服务\x0b项目 <b>&amp;</b> \"引号\" \x1f\ufffe"
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"点这里\")", "+SUM(A1:A9)", "-2+3", "@SUM(A1)",
            "\t=1+1", "\r=1+1"]


def _log_with_hostile_text(web) -> int:
    instance_id = start_project(web, title=HOSTILE_TITLE)
    with unit_of_work(web.services.session_factory) as session:
        base = session.scalars(select(Event).where(Event.instance_id == instance_id, Event.task_id.is_not(None))).first()
        for n, formula in enumerate(FORMULAS):
            for transition in ("start", "complete"):
                session.add(Event(ts=base.ts + timedelta(minutes=n, seconds=transition == "complete"),
                                  instance_id=instance_id, definition_id=base.definition_id,
                                  definition_key=base.definition_key, definition_version=base.definition_version,
                                  task_id=f"00000000-0000-0000-0000-00000000000{n}", activity_id=f"typed_{n}",
                                  activity_name=formula + "\x02", activity_type="userTask", transition=transition,
                                  resource=formula, role="community_committee", step=3,
                                  community_id=base.community_id, organization_id=base.organization_id))
    return instance_id


def _export(web, fmt: str) -> str:
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        return "".join(iter_export(session, fmt))


def test_a_control_character_in_a_title_cannot_break_the_xes_export(web):
    _log_with_hostile_text(web)
    document = etree.fromstring(_export(web, "xes").encode("utf-8"))  # strict parser: raises on bad XML
    titles = [e.get("value") for e in document.iter("{http://www.xes-standard.org/}string")
              if e.get("key") == "sanshe:title"]
    assert titles == ["养老服务项目 <b>&amp;</b> \"引号\" "]


def test_a_control_character_cannot_break_the_ocel_export(web):
    _log_with_hostile_text(web)
    text = _export(web, "ocel")
    document = json.loads(text)
    names = [a["value"] for o in document["objects"] for a in o["attributes"] if o["type"] == "project"]
    assert names == ["养老服务项目 <b>&amp;</b> \"引号\" "]
    assert all("\x02" not in e["type"] for e in document["events"])
    assert not any(ord(c) < 32 and c not in "\n" for c in text)


def test_spreadsheet_formulas_typed_by_people_are_not_run_from_the_csv_export(web):
    _log_with_hostile_text(web)
    rows = list(csv.reader(io.StringIO(_export(web, "csv"), newline="")))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    typed = [row for row in rows[1:] if row[2].startswith("typed_")]
    assert sorted(row[5] for row in typed) == sorted("'" + f for f in FORMULAS)
    assert all(row[3].startswith("'") and "\x02" not in row[3] for row in typed)


@pytest.mark.parametrize("fmt", ["xes", "ocel", "csv"])
def test_exports_through_the_web_carry_the_cleaned_text(web, as_user, fmt):
    _log_with_hostile_text(web)
    admin = as_user("town")
    response = admin.get(f"/mining/export.{fmt}")
    if response.status_code == 403:
        admin = as_user("admin")
        response = admin.get(f"/mining/export.{fmt}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "\x01" not in body and "\x02" not in body
