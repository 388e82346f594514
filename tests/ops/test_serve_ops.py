"""`sanshe serve` as operators run it: JSON log lines with request ids from every process,
/metrics summed over the gunicorn worker processes, /readyz once the scheduler beats."""
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import make_services
from tests.webui.test_serve import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-the-test-of-serve-0123456789"


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return None, ""


@pytest.mark.slow
def test_serve_writes_json_lines_with_request_ids_and_sums_metrics(sqlite_url, tmp_path):
    make_services(sqlite_url).db.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    env = dict(os.environ, SANSHE_DATABASE_URL=sqlite_url, PYTHONPATH=str(ROOT), SANSHE_ENV="development",
               SANSHE_SECRETS_DIR=str(tmp_path), SANSHE_LOG_FORMAT="json", SANSHE_METRICS_TOKEN=TOKEN,
               SANSHE_SCHEDULER_INTERVAL="0.2")
    with open(log_path, "w") as log:
        serve = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port), "--web-workers", "2"],
                                 cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: get(f"{base}/readyz")[0] == 200, 90), log_path.read_text()
        for i in range(6):
            assert get(f"{base}/login", {"X-Request-ID": f"trace-{i}"})[0] == 200
        status, page = get(f"{base}/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        counts = [float(line.rsplit(" ", 1)[1]) for line in page.splitlines()
                  if line.startswith("sanshe_http_request_duration_seconds_count") and 'route="/login"' in line]
        assert sum(counts) == 6  # both web processes' requests, whichever served them
        assert 'sanshe_processes{kind="scheduler"} 1.0' in page
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        records.append(json.loads(line))  # every line, from every process, is one JSON object
    assert {r["process"] for r in records} >= {"serve", "web", "worker", "scheduler"}
    access = [r for r in records if r["logger"] == "sanshe.access" and r["path"] == "/login"]
    assert sorted(r["request_id"] for r in access) == [f"trace-{i}" for i in range(6)]
    assert all(r["status"] == 200 and r["duration_ms"] > 0 for r in access)
