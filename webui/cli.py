"""`sanshe serve` (the web UI with gunicorn, plus workers and the scheduler) and
`sanshe bench inbox`."""
import os
import signal
import subprocess
import sys
import time

import click

from cli.app import bench, main, pass_ctx

STOP_GRACE_SECONDS = 15


def _children(host, port, web_workers, with_workers):
    python = sys.executable
    commands = [("web", [python, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(web_workers),
                         "--access-logfile", "-", "--graceful-timeout", "10", "webui:create_app()"])]
    if with_workers:
        commands.append(("worker", [python, "-m", "cli", "worker"]))
        commands.append(("scheduler", [python, "-m", "cli", "scheduler"]))
    return commands


def _stop(processes):
    for _, process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for _, process in processes:
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
    the scheduler; Ctrl-C (or SIGTERM) stops them all."""
    env = dict(os.environ, SANSHE_DATABASE_URL=ctx.settings.database_url)
    processes = []
    stopping = []

    def on_signal(signum, _frame):
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for name, command in _children(host, port, web_workers, not no_workers):
            processes.append((name, subprocess.Popen(command, env=env)))
        click.echo(f"Sanshe at http://{host}:{port}  ({', '.join(n for n, _ in processes)}; Ctrl-C stops all)")
        while not stopping:
            ended = [(n, p.returncode) for n, p in processes if p.poll() is not None]
            if ended:
                name, code = ended[0]
                click.echo(f"{name} stopped (exit {code}); stopping the rest", err=True)
                _stop(processes)
                sys.exit(code or 1)
            time.sleep(0.2)
        click.echo("stopping web, workers and scheduler ...")
    finally:
        _stop(processes)
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
