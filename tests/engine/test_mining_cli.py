"""`sanshe mine report` and `sanshe mine export` on the known log."""
import pytest
from click.testing import CliRunner

from cli import main
from tests.engine.mining_log import event_rows, load_known_log


@pytest.fixture
def sanshe(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    load_known_log(url).dispose()
    monkeypatch.setenv("SANSHE_DATABASE_URL", url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_report_prints_lead_times_steps_and_rework(sanshe):
    result = sanshe("mine", "report", "--version", "2")
    assert result.exit_code == 0, result.output
    assert "Cases: cancelled 1, completed 1" in result.output
    assert "Lead time of completed cases: mean 5.2, median 5.2" in result.output  # 125 h
    assert "1 cases voted again (1 re-votes)" in result.output


def test_export_writes_the_file_and_unknown_scopes_fail_clearly(sanshe, tmp_path):
    out = tmp_path / "log.xes"
    result = sanshe("mine", "export", "--format", "xes", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"{out}: {len(event_rows())} events" in result.output
    assert out.read_text(encoding="utf-8").count("<trace>") == 4
    refused = sanshe("mine", "report", "--community", "nowhere")
    assert refused.exit_code == 1 and "error: No community 'nowhere'." in refused.output


def test_rebuild_folds_the_log_into_the_mining_tables(sanshe):
    result = sanshe("mine", "rebuild")
    assert result.exit_code == 0, result.output
    assert "mining tables rebuilt: 4 cases, 11 activity instances" in result.output
