"""Administration commands: check diagrams and forms before they are deployed; move running
projects onto a newer version."""
import sys

import click

from engine.core import migration_runs
from engine.core.db import unit_of_work
from engine.core.deployments import read_sources
from engine.core.migration import BATCH_SIZE
from engine.core.models import LANE_ROLES
from engine.core.validation import validate_bundle
from workers.registry import PARAMETER_CHECKS, TOPICS

from .app import clear_errors, main, pass_ctx


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@clear_errors
def validate(paths):
    """Check BPMN diagrams and their forms without deploying anything.

    PATHS are read as `sanshe deploy` reads them: a folder means every *.bpmn and *.json
    file below it; a diagram given alone is checked with the forms/ folder next to it.
    Prints every finding, one per line, and exits with 1 when any of them is an error.
    """
    bpmn_files, forms = read_sources(paths)
    findings = validate_bundle(bpmn_files, forms, LANE_ROLES, set(TOPICS), PARAMETER_CHECKS)
    for finding in findings:
        click.echo(str(finding))
    if any(finding.severity == "error" for finding in findings):
        sys.exit(1)
    click.echo(f"ok: {len(bpmn_files) + len(forms)} files valid")


@main.command()
@click.argument("key")
@click.option("--to", "to_version", type=int, default=None, help="The version to move onto (default: the newest).")
@click.option("--from", "from_version", type=int, default=None, help="Move only projects on this version.")
@click.option("--instance", "instance_ids", type=int, multiple=True, help="Move only these projects (repeatable).")
@click.option("--batch", "batch_size", type=int, default=None, help=f"Projects per batch (default {BATCH_SIZE}).")
@click.option("--by", "actor", default="admin", show_default=True, help="Who moves them (audit log).")
@pass_ctx
@clear_errors
def migrate(ctx, key, to_version, from_version, instance_ids, batch_size, actor):
    """Move running projects of process KEY onto a newer version, in committed batches.

    Prints a line per batch. Stopped half-way (Ctrl-C, killed), the same command goes on
    where it stopped: an unfinished run onto that version is resumed, with the projects it
    chose, and no project is handled twice. Projects that cannot move are listed with why.
    """
    factory, runtime = ctx.services.session_factory, ctx.services.runtime
    with unit_of_work(factory) as session:
        target = migration_runs.version_of(session, key, to_version)
        run = migration_runs.unfinished_run(session, target.id)
        if run is not None and run.failed:
            click.echo(f"run {run.id} had stopped: {run.error_text}")
            run = migration_runs.resume_run(session, run.id, actor, runtime.clock())
        if run is not None:
            click.echo(f"resuming run {run.id}: {run.handled} of {run.total} handled, {run.moved} moved "
                       f"(its own choice of projects holds)")
        else:
            source = migration_runs.version_of(session, key, from_version).id if from_version else None
            run = migration_runs.start_run(session, target.id, actor, instance_ids or None, source, batch_size)
            click.echo(f"run {run.id}: {run.total} project(s) to move onto {key} version {target.version}, "
                       f"{run.batch_size} per batch")
        run_id, version = run.id, target.version
    while True:
        try:
            with unit_of_work(factory) as session:
                run = migration_runs.run_batch(session, runtime, run_id).run
                progress = (run.batches, run.handled, run.total, run.moved, list(run.refused), run.finished)
        except Exception as exc:  # kept on the run, as the scheduler keeps it, and shown on its page
            with unit_of_work(factory) as session:
                migration_runs.record_failure(session, run_id, exc, runtime.clock())
            raise
        # Said once the batch is committed: a line printed is a batch that stays done.
        batches, handled, total, moved, refused, finished = progress
        click.echo(f"batch {batches}: {handled}/{total} handled, {moved} moved, {len(refused)} could not move")
        if finished:
            break
    for item in refused:
        click.echo(f"  not moved: #{item['instance_id']} {item['title']}: {'; '.join(item['reasons'])}")
    click.echo(f"done: {moved} of {total} project(s) now on version {version}")
