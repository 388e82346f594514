"""`sanshe serve` keeps the application up: a part that dies is started again, the others
keep serving (real processes: gunicorn, the worker, the scheduler)."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import make_services

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child killed but not yet reaped by serve is a zombie: dead for our purposes.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_each_child_killed_is_started_again_and_the_others_keep_serving(sqlite_url, tmp_path):
    make_services(sqlite_url).db.dispose()  # the schema
    port = free_port()
    url = f"http://127.0.0.1:{port}/login"
    log_path = tmp_path / "serve.log"
    env = dict(os.environ, SANSHE_DATABASE_URL=sqlite_url, PYTHONPATH=str(ROOT), SANSHE_SCHEDULER_INTERVAL="0.2",
               SANSHE_ENV="development", SANSHE_SECRETS_DIR=str(tmp_path))
    with open(log_path, "w") as log:
        serve = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port), "--web-workers", "1"],
                                 cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def pids() -> dict:
        found = {}
        for name, pid in re.findall(r"^(web|worker|scheduler) started \(pid (\d+)\)", log_path.read_text(), re.M):
            found[name] = int(pid)  # the latest start of each
        return found

    try:
        assert wait_for(lambda: len(pids()) == 3 and answers(url), 60), log_path.read_text()
        for victim in ("scheduler", "worker", "web"):
            before = pids()
            os.kill(before[victim], signal.SIGKILL)
            assert wait_for(lambda: not alive(before[victim]), 10)
            others = [name for name in before if name != victim]
            assert all(alive(before[name]) for name in others), log_path.read_text()
            if victim != "web":
                assert answers(url)  # the web kept serving while the other part was down
            assert wait_for(lambda: pids()[victim] != before[victim] and alive(pids()[victim]), 30), \
                log_path.read_text()
            assert wait_for(lambda: answers(url), 30), log_path.read_text()
            assert serve.poll() is None
            assert all(pids()[name] == before[name] and alive(before[name]) for name in others)
        assert f"{'web'} stopped (exit -9); starting it again" in log_path.read_text()
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
    assert not any(alive(pid) for pid in pids().values())
