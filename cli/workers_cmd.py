"""Commands for workers: run them, look at incidents and retry them, load the demo, bench."""
import logging

import click

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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    counts = run_workers(ctx.services, {t: TOPICS[t] for t in wanted}, concurrency=concurrency, max_jobs=max_jobs,
                         lock_seconds=lock_seconds, until_idle=until_idle)
    click.echo("worker stopped: " + ", ".join(f"{k} {v}" for k, v in counts.items()), err=True)


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
@pass_ctx
@clear_errors
def demo(ctx, projects, if_empty, seed):
    """Load the Yueqing pilot and drive projects through all seven steps with the real workers."""
    from workers.demo import run_demo

    run_demo(ctx.settings, projects=projects, if_empty=if_empty, seed=seed, echo=click.echo,
             progressbar=click.progressbar)


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
