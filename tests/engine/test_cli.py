"""The `sanshe` command: one clear line and a non-zero exit on errors, never a traceback."""
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

DATA = Path(__file__).resolve().parent.parent / "data" / "engine"


@pytest.fixture
def sanshe(tmp_path, monkeypatch):
    monkeypatch.setenv("SANSHE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result
    run("init")
    return run


def test_deploy_is_versioned_and_idempotent(sanshe):
    first = sanshe("deploy", DATA / "mini_project.bpmn", DATA / "mini_write.schema.json", DATA / "mini_consult.schema.json")
    assert "deployed: mini_project version 1" in first.output
    again = sanshe("deploy", DATA / "mini_project.bpmn", DATA / "mini_write.schema.json", DATA / "mini_consult.schema.json")
    assert "unchanged: mini_project version 1" in again.output


def test_a_project_from_the_command_line(sanshe, tmp_path):
    sanshe("deploy", DATA / "mini_project.bpmn", DATA / "mini_write.schema.json", DATA / "mini_consult.schema.json")
    seed_world(tmp_path)
    sanshe("users", "create", "amy", "--password", "amy-secret-1", "--org", "org1",
           "--role", "social_organization:org1")
    sanshe("users", "create", "bob", "--password", "bob-secret-1", "--role", "community_committee:xiangdong")
    assert "started instance 1" in sanshe("start", "mini_project", "--user", "amy", "--title", "居家养老",
                                          "--item", "E01", "--community", "xiangdong").output
    listing = sanshe("tasks", "--user", "amy").output
    task_id = listing.split()[0]
    assert "Write application" in listing
    assert "no tasks" in sanshe("tasks", "--user", "bob").output

    refused = sanshe("complete", task_id, "--user", "amy", "--data", json.dumps({"summary": 1}), ok=False)
    assert refused.exit_code == 1 and "summary" in refused.output and "Traceback" not in refused.output
    bad_json = sanshe("complete", task_id, "--user", "amy", "--data", "{summary", ok=False)
    assert bad_json.exit_code == 1 and bad_json.output.startswith("error: --data is not valid JSON")
    outsider = sanshe("complete", task_id, "--user", "bob", "--data", "{}", ok=False)
    assert outsider.exit_code == 1 and "No such task" in outsider.output

    assert "completed Write application" in sanshe("complete", task_id, "--user", "amy", "--data",
                                                   json.dumps({"summary": "第一稿"})).output
    assert "Consultation" in sanshe("tasks", "--user", "bob").output


def test_errors_are_one_line(sanshe):
    missing = sanshe("deploy", "/no/such/diagram.bpmn", ok=False)
    assert missing.exit_code == 1 and missing.output.strip() == "error: No such file or folder: /no/such/diagram.bpmn"
    unknown = sanshe("tasks", "--user", "nobody", ok=False)
    assert unknown.exit_code == 1 and unknown.output.strip() == "error: No user named 'nobody'."


def seed_world(tmp_path):
    from engine.config import load_settings
    from engine.core.db import unit_of_work
    from engine.core.models import CatalogItem, Community, Organization, Town
    from engine.method.catalog import this_year
    from engine.wiring import build_services

    services = build_services(load_settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}"))
    with unit_of_work(services.session_factory) as session:
        town = Town(code="liushi", name="柳市镇")
        session.add(town)
        session.flush()
        community = Community(code="xiangdong", name="象东社区", town_id=town.id)
        session.add_all([community, Organization(code="org1", name="机构一", service_fields=["elderly"])])
        session.flush()
        session.add(CatalogItem(community_id=community.id, year=this_year(), code="E01", name="居家养老服务",
                                service_field="elderly", approved_revision=1))
    services.db.dispose()


def test_the_scheduler_writes_the_log_back_into_the_database_file(sanshe, tmp_path):
    """A copy of the database file alone (as a file backup takes it) has what was committed
    once the scheduler has passed; a step's commit leaves that to the scheduler."""
    sanshe("deploy", DATA / "mini_project.bpmn", DATA / "mini_write.schema.json", DATA / "mini_consult.schema.json")

    def deployments_in_file_copy():
        copy = tmp_path / "copy.db"
        shutil.copyfile(tmp_path / "cli.db", copy)
        with closing(sqlite3.connect(copy)) as connection:
            tables = {name for name, in connection.execute("SELECT name FROM sqlite_master")}
            return connection.execute("SELECT count(*) FROM definitions").fetchone()[0] if "definitions" in tables else 0

    assert deployments_in_file_copy() == 0
    sanshe("scheduler", "--once")
    assert deployments_in_file_copy() == 1


@pytest.mark.parametrize("xml, message", [
    ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
     ' id="D" targetNamespace="x"/>', "the file has no process to run"),
    ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
     ' id="D" targetNamespace="x"><bpmn:process id="a" isExecutable="true"><bpmn:startEvent id="s1"/></bpmn:process>'
     '<bpmn:process id="b" isExecutable="true"><bpmn:startEvent id="s2"/></bpmn:process></bpmn:definitions>',
     "the file has 2 executable pools: a, b"),
])
def test_validate_and_deploy_give_the_same_finding_for_a_file_without_one_process(sanshe, tmp_path, xml, message):
    path = tmp_path / "odd.bpmn"
    path.write_text(xml)
    checked = sanshe("validate", path, ok=False)
    deployed = sanshe("deploy", path, ok=False)
    assert checked.exit_code == deployed.exit_code == 1
    assert message in checked.output and message in deployed.output
    assert "Traceback" not in deployed.output and "list index" not in deployed.output
