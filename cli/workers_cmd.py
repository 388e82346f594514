"""Commands for workers: run them, look at incidents and retry them, load the demo, bench."""
import logging

import click

from engine import logs
from engine.core.db import unit_of_work
from engine.core.jobs import JobQueue

from .app import bench, clear_errors, main, pass_ctx


@main.command()
@click.option("--topics", "-t", multiple=True, help="Topics to serve (repeat or comma-separate; default: all).")
@click.option("--concurrency", "-c", default=1, show_default=True, help="Worker threads in this process.")
@click.option("--max-jobs", default=5, show_default=True, help="Jobs fetched per round trip.")
@click.option("--lock-seconds", type=int, default=None, help="Lock duration (default: SANSHE_JOB_LOCK_SECONDS).")
@click.option("--until-idle", is_flag=True, help="Stop when no job is waiting (for scripts and tests).")
@pass_ctx
@clear_errors
def worker(ctx, topics, concurrency, max_jobs, lock_seconds, until_idle):
    """Fetch, handle and complete service-task jobs until SIGTERM (finishes the job in hand)."""
    from workers.registry import TOPICS
    from workers.worker import run_workers

    wanted = [t.strip() for group in topics for t in group.split(",") if t.strip()] or list(TOPICS)
    unknown = sorted(set(wanted) - set(TOPICS))
    if unknown:
        raise click.BadParameter(f"no handler for {', '.join(unknown)} (known: {', '.join(sorted(TOPICS))})")
    logs.configure(ctx.settings.log_format, "worker")
    counts = run_workers(ctx.services, {t: TOPICS[t] for t in wanted}, concurrency=concurrency, max_jobs=max_jobs,
                         lock_seconds=lock_seconds, until_idle=until_idle)
    logging.getLogger("sanshe.worker").info("worker stopped: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@main.group(invoke_without_command=True)
@click.pass_context
def incidents(click_ctx):
    """Jobs that failed with no retries left (no worker fetches them until retried)."""
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(list_incidents)


@incidents.command("list")
@pass_ctx
@clear_errors
def list_incidents(ctx):
    """List incidents: job id, topic, instance, attempts, error."""
    services = ctx.services
    queue = JobQueue(services.settings, services.runtime)
    with unit_of_work(services.session_factory, readonly=True) as session:
        rows = queue.incidents(session)
        if not rows:
            click.echo("no incidents")
            return
        click.echo(f"{'job':>8}  {'topic':<20} {'instance':>8}  {'tries':>5}  error")
        for job in rows:
            error = (job.error_message or "").splitlines()[0][:100] if job.error_message else ""
            click.echo(f"{job.id:>8}  {job.topic:<20} {job.instance_id:>8}  {job.attempts:>5}  {error}")


@incidents.command("retry")
@click.argument("job_id", type=int)
@click.option("--retries", type=int, default=None, help="Retries to give it (default: SANSHE_JOB_RETRIES).")
@click.option("--actor", default="admin", show_default=True, help="Who retries it (for the audit log).")
@pass_ctx
@clear_errors
def retry_incident(ctx, job_id, retries, actor):
    """Put incident JOB_ID back in the queue."""
    services = ctx.services
    queue = JobQueue(services.settings, services.runtime)
    with unit_of_work(services.session_factory) as session:
        job = queue.retry_incident(session, job_id, retries, actor)
        click.echo(f"job {job.id} ({job.topic}) is ready again with {job.retries} retries")


@main.command()
@click.option("--projects", "-n", default=5, show_default=True, help="Projects to drive through the seven steps.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds data.")
@click.option("--seed", default=2014, show_default=True, help="Random seed for durations and choices.")
@click.option("--accounts", type=click.Choice(["all", "admin"]), default="all", show_default=True,
              help="List every demo account with its password, or only the administrator's sign-in.")
@pass_ctx
@clear_errors
def demo(ctx, projects, if_empty, seed, accounts):
    """Load the Yueqing pilot and drive projects through all seven steps with the real workers."""
    from workers.demo import run_demo

    run_demo(ctx.settings, projects=projects, if_empty=if_empty, seed=seed, echo=click.echo,
             progressbar=click.progressbar, accounts=accounts)


@bench.command("workers")
@click.option("--jobs", default=3000, show_default=True, help="Queue-only jobs per run.")
@click.option("--projects", default=200, show_default=True, help="Real projects (one job each) per run.")
@click.option("--part", type=click.Choice(["real", "queue"]), multiple=True,
              help="Only this part (default: both).")
@click.option("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test", show_default=True,
              help="Also on PostgreSQL ('' to skip).")
@pass_ctx
@clear_errors
def bench_workers(ctx, jobs, projects, part, postgres_url):
    """Jobs per second that move real projects through the real handlers (1 and 2 worker
    processes), and through the queue alone (1 and 4), on SQLite and PostgreSQL."""
    from bench.worker_bench import run_bench

    run_bench(jobs=jobs, projects=projects, postgres_url=postgres_url or None, echo=click.echo,
              parts=part or ("real", "queue"))


@main.group()
def workers():
    """Workers outside Sanshe and their credentials for the job API."""


@workers.group()
def credentials():
    """One key per worker, limited to its topics (the secret is shown once)."""


@credentials.command("create")
@click.argument("name")
@click.option("--topics", "-t", multiple=True, required=True, help="Topics it may serve (repeat or comma-separate).")
@click.option("--actor", default="admin", show_default=True, help="Who creates it (for the audit log).")
@pass_ctx
@clear_errors
def create_credential(ctx, name, topics, actor):
    """Create a credential NAME; prints its key once (send it as X-Api-Key)."""
    from engine.core import worker_credentials
    from workers.registry import TOPICS

    wanted = [t.strip() for group in topics for t in group.split(",")]
    with unit_of_work(ctx.services.session_factory) as session:
        row, key = worker_credentials.create(session, name, wanted, TOPICS, actor)
        click.echo(f"worker credential {row.name} for {', '.join(row.topics)}")
    click.echo(key)
    click.echo("(shown once: store it now; only its hash is kept)", err=True)


@credentials.command("list")
@pass_ctx
@clear_errors
def list_credentials(ctx):
    """Every credential: name, topics, created, rotated, revoked."""
    from engine.core import worker_credentials

    with unit_of_work(ctx.services.session_factory, readonly=True) as session:
        rows = worker_credentials.list_credentials(session)
        if not rows:
            click.echo("no worker credentials")
            return
        for row in rows:
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            rotated = f", rotated {row.rotated_at:%Y-%m-%d %H:%M}" if row.rotated_at else ""
            click.echo(f"{row.id:>4}  {row.name:<24} {state:<24} {', '.join(row.topics)}"
                       f"  (created {row.created_at:%Y-%m-%d %H:%M} by {row.created_by}{rotated})")


@credentials.command("rotate")
@click.argument("name")
@click.option("--actor", default="admin", show_default=True, help="Who rotates it (for the audit log).")
@pass_ctx
@clear_errors
def rotate_credential(ctx, name, actor):
    """A new key for NAME (printed once); the old key stops working at once."""
    from engine.core import worker_credentials

    with unit_of_work(ctx.services.session_factory) as session:
        key = worker_credentials.rotate(session, worker_credentials.find(session, name), actor)
    click.echo(key)
    click.echo("(shown once: store it now; the old key no longer works)", err=True)


@credentials.command("revoke")
@click.argument("name")
@click.option("--actor", default="admin", show_default=True, help="Who revokes it (for the audit log).")
@pass_ctx
@clear_errors
def revoke_credential(ctx, name, actor):
    """NAME's key stops working at once."""
    from engine.core import worker_credentials

    with unit_of_work(ctx.services.session_factory) as session:
        row = worker_credentials.find(session, name)
        worker_credentials.revoke(session, row, actor)
        click.echo(f"worker credential {row.name} revoked")
