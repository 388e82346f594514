"""Two complete sets of processes (two `sanshe serve` groups: web, worker, scheduler) on one
PostgreSQL database, as on two hosts: people work through either, and neither host ever
acts on a stale copy; every step and every job happens once."""
import os
import re
import signal
import subprocess
import sys
import uuid
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.web_bench import PASSWORD, form_fields, setup
from engine.config import load_settings
from engine.core.db import unit_of_work
from engine.core.models import Attachment, Event, Job, Task
from engine.wiring import build_services
from tests.webui.test_serve import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A person's browser: one cookie jar, used against either host."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect())
        self.token = ""

    def go(self, url, fields=None):
        data = urllib.parse.urlencode([("csrf_token", self.token), *fields]).encode() if fields is not None else None
        try:
            with self.opener.open(url, data=data, timeout=60) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode(errors="replace")
        found = TOKEN.search(body)
        if found:
            self.token = found.group(1)
        return status, body

    def upload(self, url, fields, files):
        """A multipart form as the browser posts one with files: ``files`` is {name: (filename, bytes)}."""
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in [("csrf_token", self.token), *fields]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, (filename, content) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                         f'Content-Type: application/pdf\r\n\r\n'.encode() + content + b"\r\n")
        request = urllib.request.Request(url, data=b"".join(parts) + f"--{boundary}--\r\n".encode(),
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def download(self, url):
        try:
            with self.opener.open(url, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, b""

    def sign_in(self, host, username):
        self.go(f"{host}/login")
        return self.go(f"{host}/login", [("username", username), ("password", PASSWORD)])[0]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def ready(url):
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.postgres
def test_two_hosts_on_one_postgresql(pg_schema_url, tmp_path):
    names = setup(pg_schema_url, users=6, projects=4)  # community_000, town_001, organization_002, ...
    committee, other_committee, town = names[0], names[3], names[1]
    env = dict(os.environ, SANSHE_DATABASE_URL=pg_schema_url, PYTHONPATH=str(ROOT), SANSHE_ENV="development",
               SANSHE_SECRETS_DIR=str(tmp_path), SANSHE_SCHEDULER_INTERVAL="0.5")
    hosts, groups = [], []
    for name in ("a", "b"):
        port = free_port()
        with open(tmp_path / f"serve-{name}.log", "w") as log:
            groups.append(subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port),
                                            "--web-workers", "1"], cwd=ROOT, env=env, stdout=log,
                                           stderr=subprocess.STDOUT))
        hosts.append(f"http://127.0.0.1:{port}")
    a, b = hosts
    services = build_services(load_settings(database_url=pg_schema_url))
    try:
        assert wait_for(lambda: ready(a) and ready(b), 120), [(tmp_path / f"serve-{n}.log").read_text()
                                                               for n in "ab"]
        first, second = Browser(), Browser()
        assert first.sign_in(a, committee) == 302
        assert second.sign_in(b, other_committee) == 302
        _, inbox = first.go(f"{a}/inbox?view=open")
        task_ids = re.findall(r'href="/tasks/([0-9a-f-]{36})"', inbox)
        assert len(task_ids) == 4
        # Both hosts read the task (each now holds the instance in memory) ...
        for browser, host in ((first, a), (second, b)):
            assert browser.go(f"{host}/tasks/{task_ids[0]}")[0] == 200
        # ... one person claims it on host A; host B knows at once.
        assert first.go(f"{a}/tasks/{task_ids[0]}/claim", [])[0] == 302
        assert second.go(f"{b}/tasks/{task_ids[0]}/claim", [])[0] in (409, 422)
        # A file uploaded with a draft through host A is served by host B, to its uploader
        # and to a colleague (the database holds it; no shared folder is configured).
        scan = b"%PDF-1.4 screening documents " + os.urandom(64 * 1024)
        assert first.upload(f"{a}/tasks/{task_ids[0]}/draft", [],
                            {"screening_documents": ("筛选材料.pdf", scan)}) in (200, 302)
        with unit_of_work(services.session_factory, readonly=True) as session:
            attachment_id = session.scalar(select(Attachment.id).where(Attachment.task_id == task_ids[0]))
        assert attachment_id is not None
        for browser, host in ((first, b), (second, b), (second, a)):
            assert browser.download(f"{host}/attachments/{attachment_id}") == (200, scan)
        # The same person completes it through host B (the session works on both hosts).
        status, _ = first.go(f"{b}/tasks/{task_ids[0]}/complete", form_fields(services, task_ids[0], committee))
        assert status == 302
        # The other projects, through both hosts at once, alternately.
        for i, task_id in enumerate(task_ids[1:]):
            host = hosts[i % 2]
            assert second.go(f"{host}/tasks/{task_id}/claim", [])[0] == 302
            status, _ = second.go(f"{hosts[(i + 1) % 2]}/tasks/{task_id}/complete",
                                  form_fields(services, task_id, other_committee))
            assert status == 302
        # The two workers run the eligibility checks; the town sees every project on either host.
        town_browser = Browser()
        assert town_browser.sign_in(b, town) == 302

        def town_tasks(host):
            return set(re.findall(r'href="/tasks/([0-9a-f-]{36})"', town_browser.go(f"{host}/inbox?view=open")[1]))

        def in_database():
            with unit_of_work(services.session_factory, readonly=True) as session:
                return set(session.scalars(select(Task.id).where(Task.bpmn_id == "approve_qualification",
                                                                 Task.state == "ready")))

        def jobs_done():
            with unit_of_work(services.session_factory, readonly=True) as session:
                return set(session.scalars(select(Job.state))) == {"completed"}

        # Once the workers are through (an eligibility check may also stop a project), both
        # hosts show the town exactly the tasks the database holds.
        assert wait_for(lambda: jobs_done() and in_database() and town_tasks(a) == town_tasks(b) == in_database(),
                        90), (town_tasks(a), town_tasks(b), in_database())
        with unit_of_work(services.session_factory, readonly=True) as session:
            completes = session.execute(select(Event.task_id, func.count()).where(
                Event.transition == "complete", Event.task_id.is_not(None)).group_by(Event.task_id)).all()
            assert completes and all(count == 1 for _task, count in completes)  # no step twice
            assert session.scalar(select(func.count()).select_from(Task).where(
                Task.state == "completed", Task.bpmn_id == "confirm_catalog_item")) == 4
            jobs = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
            assert dict(jobs).get("completed", 0) >= 4 and not dict(jobs).get("incident")
        for group in groups:
            assert group.poll() is None
    finally:
        services.db.dispose()
        for group in groups:
            group.send_signal(signal.SIGTERM)
        for group in groups:
            try:
                group.wait(60)
            except subprocess.TimeoutExpired:
                group.kill()
