"""Fifty workers long-polling the job API leave sign-in and the inbox at their normal speed,
measured against the real server (`sanshe serve`: gunicorn), on SQLite and PostgreSQL."""
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener, urlopen

import pytest

from tests.factories import PASSWORD
from tests.webui.conftest import build_web

ROOT = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
WORKER_KEY = "long-poll-test-worker-key-" + "k" * 20
POLLERS = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(services, fast_argon2):
    """`sanshe serve --no-workers` on a free port over the test database."""
    build_web(services)
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}, "PYTHONPATH": str(ROOT),
           "SANSHE_DATABASE_URL": services.settings.database_url, "SANSHE_ENV": "production",
           "SANSHE_SECRET_KEY": "s" * 48, "SANSHE_WORKER_API_KEY": WORKER_KEY}
    process = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--no-workers", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urlopen(f"{base}/login", timeout=5).read()
            break
        except (URLError, ConnectionError, TimeoutError):
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read().decode()[-2000:]
            time.sleep(0.3)
    yield base
    process.terminate()
    process.wait(30)
    process.stderr.close()


def _sign_in_and_open_the_inbox(base: str) -> float:
    """Seconds for what a person does first: the sign-in page, signing in, the inbox."""
    opener = build_opener(HTTPCookieProcessor(CookieJar()))
    started = time.perf_counter()
    token = TOKEN.search(opener.open(f"{base}/login", timeout=60).read().decode()).group(1)
    body = urlencode({"csrf_token": token, "username": "committee", "password": PASSWORD}).encode()
    response = opener.open(Request(f"{base}/login", data=body), timeout=60)
    page = response.read().decode()
    assert response.geturl().endswith("/inbox") and "committee" in page
    return time.perf_counter() - started


def _poll_until(base: str, worker: int, stop: threading.Event, outcomes: list) -> None:
    while not stop.is_set():
        request = Request(f"{base}/api/jobs/fetch-and-lock", method="POST", data=json.dumps({
            "workerId": f"remote-{worker}", "topics": ["no_job_has_this_topic"], "asyncResponseTimeout": 8000,
        }).encode(), headers={"X-Api-Key": WORKER_KEY, "Content-Type": "application/json"})
        started = time.perf_counter()
        try:
            with urlopen(request, timeout=60) as response:
                outcomes.append((response.status, time.perf_counter() - started))
        except Exception as exc:  # noqa: BLE001 (any failure is what the test reports)
            outcomes.append((getattr(exc, "code", repr(exc)), time.perf_counter() - started))
        if time.perf_counter() - started < 1:
            time.sleep(0.5)  # as a real client does after an empty answer


@pytest.mark.slow
def test_fifty_waiting_workers_do_not_starve_sign_in_and_the_inbox(server):
    normal = statistics.median(_sign_in_and_open_the_inbox(server) for _ in range(3))
    stop, outcomes = threading.Event(), []
    pollers = [threading.Thread(target=_poll_until, args=(server, n, stop, outcomes), daemon=True)
               for n in range(POLLERS)]
    for thread in pollers:
        thread.start()
    try:
        time.sleep(2)  # every poll is waiting now
        loaded = [_sign_in_and_open_the_inbox(server) for _ in range(3)]
    finally:
        stop.set()
        for thread in pollers:
            thread.join(30)
    waited = [seconds for status, seconds in outcomes if status == 200 and seconds > 5]
    assert all(status == 200 for status, _ in outcomes), outcomes
    assert len(waited) >= 40, outcomes  # the polls really held their connections open
    assert statistics.median(loaded) < max(3 * normal, normal + 1.5), (normal, loaded)
