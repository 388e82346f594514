"""`sanshe serve` (the web UI with gunicorn, plus workers and the scheduler) and
`sanshe bench inbox`."""
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import click

from cli.app import bench, main, pass_ctx
from engine import logs
from engine.config import create_missing_secrets, secret_problems

log = logging.getLogger("sanshe.serve")
STOP_GRACE_SECONDS = 15
# Threads per web process: MAX_WAITING_POLLS of them may hold waiting job polls.
WEB_THREADS = 48


def _children(host, port, web_workers, with_workers):
    python = sys.executable
    # Threads, not only processes: a worker's long poll waits in one thread while the
    # process's other threads serve people (webui/jobs_api.py bounds the waiting polls).
    # The app writes one access line per request itself (with its request id and route).
    commands = [("web", [python, "-m", "gunicorn", "-c", "python:webui.gunicorn_conf", "--bind", f"{host}:{port}",
                         "--workers", str(web_workers), "--worker-class", "gthread", "--threads", str(WEB_THREADS),
                         "--graceful-timeout", "10", "webui.wsgi:application()"])]
    if with_workers:
        commands.append(("worker", [python, "-m", "cli", "worker"]))
        commands.append(("scheduler", [python, "-m", "cli", "scheduler"]))
    return commands


# A child that dies is started again after a pause that doubles with each quick death (a
# child that cannot start at all does not spin), and is forgiven once it has run a while.
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 60.0
RESTART_STABLE_SECONDS = 60.0


_json_lines: list[bool] = []


def say(text: str, level: int = logging.INFO) -> None:
    """A line of the supervisor: plain on stderr, or a JSON log line (SANSHE_LOG_FORMAT=json)."""
    if _json_lines:
        log.log(level, text)
    else:
        click.echo(text, err=True)


class Child:
    """One supervised process of `sanshe serve`: its command, the running process, and when
    it may be started again after dying."""

    def __init__(self, name: str, command: list[str], env: dict):
        self.name, self.command, self.env = name, command, env
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.backoff = RESTART_FIRST_SECONDS
        self.restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env)
        self.started_at, self.restart_at = time.monotonic(), None
        say(f"{self.name} started (pid {self.process.pid})")

    def watch(self, now: float) -> None:
        """Notice a death (and schedule the restart), or restart when the pause is over."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return
        code = self.process.poll() if self.process is not None else 0
        if code is None:
            return
        if now - self.started_at >= RESTART_STABLE_SECONDS:
            self.backoff = RESTART_FIRST_SECONDS
        say(f"{self.name} stopped (exit {code}); starting it again in {self.backoff:g} s; the others keep running",
            logging.WARNING)
        self.restart_at = now + self.backoff
        self.backoff = min(self.backoff * 2, RESTART_MAX_SECONDS)


def _stop(children):
    running = [c.process for c in children if c.process is not None and c.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--web-workers", default=2, show_default=True, help="gunicorn worker processes")
@click.option("--no-workers", is_flag=True, help="Serve the UI only (no job workers, no scheduler).")
@pass_ctx
def serve(ctx, host, port, web_workers, no_workers):
    """Serve the web UI at http://HOST:PORT with gunicorn, together with the job workers and
    the scheduler; a part that dies is started again (after a pause that grows while it keeps
    dying) and the others keep running. Ctrl-C (or SIGTERM) stops them all.

    With SANSHE_ENV=development missing secrets are generated into the secrets folder;
    otherwise it refuses to start without strong secrets of its own."""
    settings = ctx.settings
    if settings.log_format == "json":
        logs.configure("json", "serve")
        _json_lines.append(True)
    if settings.environment == "development":
        folder = create_missing_secrets(settings)
        say(f"development secrets (secret key, worker key) are kept in {folder} (mode 0600)")
    else:
        problems = secret_problems(settings)
        if problems:
            raise click.ClickException(
                "refusing to start: " + "; ".join(problems) + ". Set them in the environment (e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'), or SANSHE_ENV=development.")
    env = dict(os.environ, SANSHE_DATABASE_URL=settings.database_url, SANSHE_ENV=settings.environment,
               SANSHE_SECRET_KEY=settings.secret_key, SANSHE_WORKER_API_KEY=settings.worker_api_key)
    # The web processes' metrics meet in one folder, so /metrics sums all of them.
    metrics_dir = tempfile.mkdtemp(prefix="sanshe-metrics-")
    web_env = dict(env, PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    children = [Child(name, command, web_env if name == "web" else env)
                for name, command in _children(host, port, web_workers, not no_workers)]
    stopping = []

    def on_signal(signum, _frame):
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for child in children:
            child.start()
        say(f"Sanshe at http://{host}:{port}  ({', '.join(c.name for c in children)}; Ctrl-C stops all)")
        while not stopping:
            now = time.monotonic()
            for child in children:
                child.watch(now)
            time.sleep(0.2)
        say("stopping web, workers and scheduler ...")
    finally:
        _stop(children)
        shutil.rmtree(metrics_dir, ignore_errors=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@bench.command("inbox")
@click.option("--tasks", "open_tasks", default=100_000, show_default=True, help="open tasks for the measured user")
@click.option("--events", default=1_000_000, show_default=True)
@click.option("--requests", default=300, show_default=True, help="timed inbox requests per case")
@click.option("--backend", type=click.Choice(["sqlite", "postgresql", "both"]), default="both", show_default=True)
def bench_inbox(open_tasks, events, requests, backend):
    """Inbox page response time (p50/p95) for a user with many open tasks."""
    from bench.inbox_bench import run

    run(open_tasks=open_tasks, events=events, requests=requests, backends=backend)


@bench.command("web")
@click.option("--users", default=64, show_default=True, help="people signed in at once")
@click.option("--seconds", default=60, show_default=True, help="how long they work")
@click.option("--web-workers", default=2, show_default=True, help="gunicorn worker processes")
@click.option("--postgres", metavar="URL", default=None, help="Also run it on this PostgreSQL database.")
@click.option("--pause", default=3.0, show_default=True,
              help="seconds each person spends reading a page before the next click (0: none, a stress test "
                   "with every person's next request sent the moment the last one is answered)")
def bench_web(users, seconds, web_workers, postgres, pause):
    """Many people at once through a real `sanshe serve` on loopback: sign in, inbox, task,
    claim, complete; p50/p95/p99 per request type, errors, task lifecycles per minute."""
    from bench.web_bench import run

    if run(users=users, seconds=seconds, web_workers=web_workers, postgres_url=postgres, pause=pause,
           echo=click.echo):
        raise SystemExit(1)
