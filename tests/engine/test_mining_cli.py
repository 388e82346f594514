"""`sanshe mine report` and `sanshe mine export` on the known log."""
import csv
import io
import json

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


def test_report_as_json_keeps_full_precision_and_the_graph(sanshe):
    result = sanshe("mine", "report", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["cases"]["lead"]["mean"] == 114 * 3600  # seconds, not days to one decimal
    edges = {(e["source"], e["target"]): e["count"] for e in report["directly_follows"]}
    assert edges[("consultation_meeting", "tally_votes")] == 2


def test_report_as_csv_has_one_figure_a_row(sanshe):
    result = sanshe("mine", "report", "--format", "csv", "--version", "2")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    lead = {r["statistic"]: r["value"] for r in rows if r["measure"] == "lead_seconds" and r["section"] == "cases"}
    assert float(lead["mean"]) == 125 * 3600
    assert any(r["section"] == "directly_follows" and r["key"] == "tally_votes>tally_votes" for r in rows)


def test_text_report_shows_the_directly_follows_graph(sanshe):
    result = sanshe("mine", "report")
    assert "Directly-follows graph" in result.output
    assert "consultation_meeting  tally_votes" in result.output
