"""Many people at once on the web UI, through a real `sanshe serve` on loopback.

A database of its own (SQLite, or a PostgreSQL schema with ``--postgres``) gets the
process, a town with one community and organization, ``users`` people (community committee,
town government and organization staff in turn, each with a real Argon2 password) and
projects waiting at step 1. ``sanshe serve`` (gunicorn as it runs in production, the job
worker, the scheduler) is started on a free loopback port. Each simulated person signs in,
(trying again after 2 s when told to wait), then for ``seconds``: opens the inbox, opens a task, claims it and completes it with the
form's fields posted as the browser posts them (the values chosen from the form's schema).
Each person reads every page for about ``--pause`` seconds (3 by default; 0.5x to 1.5x, at
random) before the next click, as people do (filling in a form takes them minutes, so this
is several times the load of real people); an empty inbox is looked at again as often.
``--pause 0`` is a stress test instead: a closed loop, ``users`` requests in flight at every
moment, so that the latency is what the machine's throughput allows (Little's law: 64 in
flight at 100 requests/s is 640 ms on average). Printed: per request
type the count, p50 / p95 / p99 in ms and the errors (5xx, 409, other 4xx, no answer), and
task lifecycles (claim → complete) per minute.

    python -m cli bench web --users 64 [--seconds 60] [--postgres URL]
"""
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from contextlib import ExitStack
from http.cookiejar import CookieJar
from pathlib import Path

from sqlalchemy import select

from bench.pg import pg_schema
from engine.config import PROJECT_ROOT, load_settings
from engine.core import users as user_store
from engine.core.db import unit_of_work, upgrade_schema
from engine.core.deployments import deploy, read_bundle
from engine.core.models import User
from engine.method.driver import add_user, default_choices, fill, make_world
from engine.wiring import build_services

PASSWORD = "bench-password-7319"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
TASK_LINK = re.compile(r'href="/tasks/([0-9a-f-]{36})"')
ROLES = (("community_committee", "community"), ("town_government", "town"), ("social_organization", "organization"))


def setup(url: str, users: int, projects: int) -> list[str]:
    """The database: process, world, people and projects; returns the usernames."""
    services = build_services(load_settings(database_url=url))
    upgrade_schema(services.db)
    bpmn, forms = read_bundle([PROJECT_ROOT / "processes"])
    names = []
    try:
        with unit_of_work(services.session_factory) as session:
            deploy(session, services.runtime.spec_cache, bpmn, forms, "bench")
            world = make_world(session)
            scopes = {"community": world.community.id, "town": world.town.id, "organization": world.org.id}
            for i in range(users):
                role, scope_type = ROLES[i % len(ROLES)]
                name = f"{scope_type}_{i:03d}"
                add_user(session, name, role, scope_type, scopes[scope_type],
                         world.org.id if scope_type == "organization" else None)
                names.append(name)
            session.flush()
            password_hash = user_store.hash_password(PASSWORD)  # the real cost to check at sign-in
            for user in session.scalars(select(User)):
                user.password_hash = password_hash
            starter = session.get_one(User, world.users.org.id)
            for i in range(projects):
                services.runtime.start_instance(session, "seven_step_project", starter, {
                    "title": f"压力测试项目 {i:04d}", "organization_id": world.org.id, "catalog_item_id": world.item.id})
    finally:
        services.db.dispose()
    return names


def form_fields(services, task_id: str, username: str) -> list[tuple[str, str]]:
    """The fields a browser would post for the task's form, values chosen from its schema."""
    from webui.forms import widget_of

    with unit_of_work(services.session_factory, readonly=True) as session:
        user = session.scalar(select(User).where(User.username == username))
        schema = services.runtime.task_form(session, task_id, user)
    choices = default_choices()
    choices["application_budget_total"] = 30000
    data = fill(schema, choices)
    fields: list[tuple[str, str]] = []

    def flatten(prop, value, path):
        widget = widget_of(prop)
        if value is None:
            return
        if widget == "object":
            for name, sub in prop.get("properties", {}).items():
                flatten(sub, value.get(name), f"{path}{name}" if not path else f"{path}.{name}")
        elif widget == "table":
            for i, row in enumerate(value):
                for name, sub in prop.get("items", {}).get("properties", {}).items():
                    flatten(sub, row.get(name), f"{path}.{i}.{name}")
        elif widget == "checkbox":
            if value:
                fields.append((path, "on"))
        elif widget == "multiselect":
            fields.extend((path, str(v)) for v in value)
        elif widget == "lines":
            fields.append((path, "\n".join(str(v) for v in value)))
        else:
            fields.append((path, str(value)))

    flatten(schema, data, "")
    return fields


class Person(threading.Thread):
    """One simulated person: sign in, then inbox → task → claim → complete, until the end."""

    def __init__(self, base, username, seconds, services, results, lock, signed_in, pause=0.0):
        super().__init__(daemon=True)
        self.pause = pause
        self.base, self.username, self.seconds, self.deadline = base, username, seconds, 0.0
        self.signed_in = signed_in
        self.services, self.results, self.lock = services, results, lock
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()),
                                                  NoRedirect())
        self.token = ""
        self.rng = random.Random(username)

    def read(self):
        """A person looking at the page just opened before the next click."""
        if self.pause:
            time.sleep(self.pause * self.rng.uniform(0.5, 1.5))

    def call(self, kind, path, fields=None):
        data = urllib.parse.urlencode([("csrf_token", self.token), *fields]).encode() if fields is not None else None
        started = time.perf_counter()
        try:
            with self.opener.open(self.base + path, data=data, timeout=60) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode(errors="replace")
        except OSError:
            status, body = 0, ""
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.results[kind].append((elapsed, status))
        found = TOKEN.search(body)
        if found:
            self.token = found.group(1)
        return status, body

    def run(self):
        give_up = time.monotonic() + self.seconds
        try:
            while True:
                self.call("sign-in page", "/login")
                status, _ = self.call("sign in", "/login", [("username", self.username), ("password", PASSWORD)])
                if status == 302:
                    break
                if status not in (0, 429, 503) or time.monotonic() >= give_up:
                    return
                time.sleep(2)  # as a person told "too many sign-ins, wait" or "busy" would, then again
        finally:
            self.signed_in.wait()  # everyone signed in (or given up): the measured time starts
        self.deadline = time.monotonic() + self.seconds
        if self.pause:  # people who read their pages are each at a different moment of it
            time.sleep(self.rng.uniform(0, self.pause))
        while time.monotonic() < self.deadline:
            status, page = self.call("inbox", "/inbox?view=open")
            tasks = TASK_LINK.findall(page)
            if not tasks:  # nothing to do: look again later
                time.sleep(self.pause * self.rng.uniform(0.5, 1.5) if self.pause else 0.5)
                continue
            self.read()
            task_id = self.rng.choice(tasks[:10])
            status, _ = self.call("task page", f"/tasks/{task_id}")
            if status != 200:
                continue
            self.read()
            status, _ = self.call("claim", f"/tasks/{task_id}/claim", [])
            if status != 302:
                continue
            self.read()
            try:
                fields = form_fields(self.services, task_id, self.username)
            except Exception:  # noqa: BLE001 - someone else completed it meanwhile
                continue
            status, _ = self.call("complete", f"/tasks/{task_id}/complete", fields)
            if status == 302:
                with self.lock:
                    self.results["lifecycles"].append((0.0, 302))
            self.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, q):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report(results, seconds, echo):
    echo(f"{'request':<14} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'5xx':>5} {'409':>5} "
         f"{'4xx':>5} {'none':>5}")
    total_5xx = 0
    for kind in ("sign-in page", "sign in", "inbox", "task page", "claim", "complete"):
        rows = results.get(kind, [])
        times = [t for t, _ in rows]
        statuses = [s for _, s in rows]
        errors_5xx = sum(1 for s in statuses if s >= 500)
        total_5xx += errors_5xx
        echo(f"{kind:<14} {len(rows):>7} {percentile(times, 50):>8.0f} {percentile(times, 95):>8.0f} "
             f"{percentile(times, 99):>8.0f} {errors_5xx:>5} {statuses.count(409):>5} "
             f"{sum(1 for s in statuses if 400 <= s < 500 and s != 409):>5} {statuses.count(0):>5}")
    requests_ = sum(len(v) for k, v in results.items() if k not in ("lifecycles", "sign-in page", "sign in"))
    echo(f"requests/s after sign-in {requests_ / seconds:.0f}; task lifecycles (claim → complete) per minute "
         f"{len(results.get('lifecycles', [])) * 60 / seconds:.0f}; errors 5xx {total_5xx}")
    return total_5xx


PEOPLE_PER_CLIENT = 16


def _client(base, url, names, seconds, pause, signed_in, answers):
    """One client process: its people as threads; puts (results, measured from, ended)."""
    services = build_services(load_settings(database_url=url))
    results: dict = defaultdict(list)
    lock = threading.Lock()
    measured_from = [0.0]

    class Started:
        """The shared barrier; this process notes when it opened."""

        @staticmethod
        def wait():
            signed_in.wait()
            with lock:
                measured_from[0] = measured_from[0] or time.monotonic()

    try:
        people = [Person(base, name, seconds, services, results, lock, Started, pause) for name in names]
        for person in people:
            person.start()
        for person in people:
            person.join(2 * seconds + 120)
        answers.put((dict(results), measured_from[0], time.monotonic()))
    finally:
        services.db.dispose()


def run_backend(url, users, seconds, projects, web_workers, echo, pause=0.0):
    echo(f"setting up {users} people and {projects} projects ...")
    names = setup(url, users, projects)
    folder = Path(tempfile.mkdtemp(prefix="sanshe-bench-web-"))
    port = free_port()
    env = dict(os.environ, SANSHE_DATABASE_URL=url, SANSHE_ENV="development", SANSHE_SECRETS_DIR=str(folder),
               PYTHONPATH=str(PROJECT_ROOT))
    log_path = folder / "serve.log"
    with open(log_path, "w") as log:
        serve = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port), "--web-workers",
                                  str(web_workers)], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"the server did not become ready; see {log_path}")
        # The people are spread over client processes of PEOPLE_PER_CLIENT threads each: one
        # Python process driving 64 threads measures its own turns on its interpreter lock as
        # page latency. Everyone signs in first (its own line in the report); the pages are
        # measured from the moment all are in, so that a page's latency is not that of a
        # sign-in rush.
        context = multiprocessing.get_context("fork")
        signed_in = context.Barrier(len(names))
        answers = context.Queue()
        groups = [names[i:i + PEOPLE_PER_CLIENT] for i in range(0, len(names), PEOPLE_PER_CLIENT)]
        began = time.monotonic()
        clients = [context.Process(target=_client, args=(base, url, group, seconds, pause, signed_in, answers))
                   for group in groups]
        for client in clients:
            client.start()
        results: dict = defaultdict(list)
        starts, ends = [], []
        for _ in clients:
            part, measured_from, ended = answers.get(timeout=3 * seconds + 300)
            for kind, rows in part.items():
                results[kind].extend(rows)
            starts.append(measured_from)
            ends.append(ended)
        for client in clients:
            client.join(60)
        sign_ins = min(starts) - began
        elapsed = max(ends) - min(starts)
        echo(f"{users} people ({f'reading each page about {pause:g} s' if pause else 'no pause: a stress test'}) "
             f"in {len(clients)} client processes: all signed in after {sign_ins:.0f} s, then {elapsed:.0f} s "
             f"measured; {web_workers} web workers, machine load "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min)")
        return report(results, elapsed, echo)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(60)
        except subprocess.TimeoutExpired:
            serve.kill()


def run(users=64, seconds=60, projects=None, web_workers=2, postgres_url=None, echo=print, pause=3.0) -> int:
    """Returns the number of 5xx answers (0 is the goal)."""
    projects = projects or users * 4
    errors = 0
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sanshe-bench-")))
        echo("== SQLite")
        errors += run_backend(f"sqlite:///{folder / 'bench.db'}", users, seconds, projects, web_workers, echo, pause)
        if postgres_url:
            echo("== PostgreSQL")
            url = stack.enter_context(pg_schema(postgres_url, f"bench_web_{os.getpid()}"))
            errors += run_backend(url, users, seconds, projects, web_workers, echo, pause)
    return errors

