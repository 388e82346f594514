"""`sanshe validate`: every finding on its own line, exit code 1 on errors."""
import shutil
from pathlib import Path

from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "validation"


def validate(*paths):
    return CliRunner().invoke(main, ["validate", *map(str, paths)], catch_exceptions=False)


def folder(tmp_path, diagram):
    (tmp_path / "forms").mkdir()
    shutil.copy(DATA / diagram, tmp_path)
    shutil.copy(DATA / "forms" / "propose.schema.json", tmp_path / "forms")
    return tmp_path


def test_the_shipped_processes_are_valid():
    result = validate(ROOT / "processes")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ") and result.output.rstrip().endswith("files valid")


def test_a_broken_folder_prints_every_finding_and_fails(tmp_path):
    result = validate(folder(tmp_path, "three_problems.bpmn"))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("three_problems.bpmn:53 [Flow_2]: sequence flow Flow_2 points to missing") for line in lines)
    assert any("[Lane_town] street_office: lane 'street_office'" in line for line in lines)
    assert any("[Task_sign] Sign the agreement: the task has no 'step'" in line for line in lines)
    assert any("service topic 'count_votes'" in line for line in lines)  # no worker has this topic
    assert "ok:" not in result.output


def test_a_malformed_form_is_a_finding_with_its_line(tmp_path):
    broken = tmp_path / "propose.schema.json"
    broken.write_text('{"type": "object",\n "properties": {,}\n}')
    result = validate(DATA / "valid.bpmn", broken)
    assert result.exit_code == 1
    assert "propose.schema.json:2: not valid JSON" in result.output


def test_a_missing_path_is_one_clear_error():
    result = validate("no/such/folder")
    assert result.exit_code == 1
    assert "No such file or folder: no/such/folder" in result.output


def test_validate_and_deploy_read_the_same_files(tmp_path, monkeypatch):
    """What `sanshe validate` passed is what `sanshe deploy` deploys: a diagram given alone
    brings the forms/ folder beside it, in both."""
    diagram = ROOT / "processes" / "seven_step_project.bpmn"
    assert validate(diagram).exit_code == 0
    monkeypatch.setenv("SANSHE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(main, ["init"], catch_exceptions=False).exit_code == 0
    deployed = runner.invoke(main, ["deploy", str(diagram)], catch_exceptions=False)
    assert deployed.exit_code == 0 and "deployed:" in deployed.output, deployed.output
    # A file that is neither a diagram nor a form is refused by both, with one line.
    stray = tmp_path / "notes.txt"
    stray.write_text("x")
    for command in (["validate"], ["deploy"]):
        result = runner.invoke(main, [*command, str(stray)], catch_exceptions=False)
        assert result.exit_code == 1 and "not a .bpmn diagram, a .json form or a folder" in result.output
