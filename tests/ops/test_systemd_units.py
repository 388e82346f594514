"""The systemd units in deploy/systemd are valid and start commands that exist."""
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"


def localised(tmp_path: Path) -> Path:
    """The units with this checkout's interpreter and the example settings file."""
    for unit in UNITS.glob("sanshe*.*"):
        text = (unit.read_text().replace("/opt/sanshe/.venv/bin/python", sys.executable)
                .replace("/etc/sanshe/sanshe.env", str(UNITS / "sanshe.env.example"))
                .replace("User=sanshe", "User=root").replace("Group=sanshe", "Group=root"))
        (tmp_path / unit.name).write_text(text)
    (tmp_path / "sanshe-worker@1.service").write_text((tmp_path / "sanshe-worker@.service").read_text())
    return tmp_path


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path):
    folder = localised(tmp_path)
    names = ["sanshe-web.service", "sanshe-worker@1.service", "sanshe-scheduler.service", "sanshe-backup.service",
             "sanshe-backup.timer"]
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=folder, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def exec_start(unit: str) -> list[str]:
    text = (UNITS / unit).read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_each_service_restarts_always_and_runs_a_real_command():
    for unit in ("sanshe-web.service", "sanshe-worker@.service", "sanshe-scheduler.service"):
        text = (UNITS / unit).read_text()
        assert "Restart=always" in text and "StartLimitIntervalSec=0" in text
    for unit, command in (("sanshe-worker@.service", "worker"), ("sanshe-scheduler.service", "scheduler")):
        args = exec_start(unit)
        assert args[1:] == ["-m", "cli", command]
        done = subprocess.run([sys.executable, "-m", "cli", command, "--help"], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    web = exec_start("sanshe-web.service")
    assert web[1:3] == ["-m", "gunicorn"] and web[-1] == "webui.wsgi:application()"
    from webui import gunicorn_conf, wsgi
    assert callable(wsgi.application) and gunicorn_conf.logconfig_dict["version"] == 1
