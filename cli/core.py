"""Engine commands: database, deployments, users, instances, tasks, jobs, scheduler."""
import json
import logging
import signal
import time

import click
from engine.core import access, affiliations, migration_runs
from engine.core.attachments import prune_abandoned
from engine.core import deployments
from engine.core import users as user_store
from engine import logs
from engine.core.db import checkpoint, transient, unit_of_work, upgrade_schema
from engine.core.heartbeats import ProcessKind, beat, forget_gone
from engine.core.models import utcnow
from engine.method import catalog
from engine.errors import ValidationError
from engine.core.jobs import list_jobs
from engine.core.scheduler import run_pass

from .app import pad, bench, clear_errors, main, pass_ctx

log = logging.getLogger("sanshe.scheduler")
# How often the scheduler removes the files of cancelled tasks' drafts.
PRUNE_INTERVAL_SECONDS = 300
# How often the scheduler renews its heartbeat (/readyz wants one within a minute).
HEARTBEAT_SECONDS = 5.0


@main.command()
@pass_ctx
@clear_errors
def init(ctx):
    """Create or upgrade the database schema."""
    upgrade_schema(ctx.services.db)
    click.echo(f"database ready: {ctx.services.db.url.render_as_string(hide_password=True)}")


def diagram_validator():
    """The full validation (roles, topics, forms, scripts) deployments must pass."""
    from engine.core.models import LANE_ROLES
    from engine.core.validation import validate_or_raise
    from workers.registry import PARAMETER_CHECKS, TOPICS

    return lambda bpmn_files, forms: validate_or_raise(bpmn_files, forms, LANE_ROLES, set(TOPICS),
                                                       PARAMETER_CHECKS)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--by", "deployed_by", default="admin", show_default=True, help="Who deploys (audit log).")
@pass_ctx
@clear_errors
def deploy(ctx, paths, deployed_by):
    """Validate and deploy BPMN diagrams with their forms (files or folders)."""
    bpmn_files, forms = deployments.read_bundle(paths)
    with unit_of_work(ctx.services.session_factory) as session:
        results = deployments.deploy(session, ctx.services.runtime.spec_cache, bpmn_files, forms, deployed_by,
                                     validator=diagram_validator())
        for definition, created in results:
            state = "deployed" if created else "unchanged"
            click.echo(f"{state}: {definition.key} version {definition.version} ({definition.content_hash[:12]})")


@main.group()
def users():
    """Manage users, roles and scopes."""


def resolve_scope(session, role, scope):
    """Scope given as a code (``xiangdong``) or id for the role's scope type."""
    scope_type = access.scope_for(role, 0, 0, 0)[0]
    if scope_type == "global":
        return 0
    if not scope:
        raise ValidationError(f"The role {role} needs --scope (a {scope_type} code).")
    return access.find_scope(session, scope_type, scope)


@users.command("create")
@click.argument("username")
@click.option("--password", required=True)
@click.option("--name", "display_name", default="")
@click.option("--role", "roles", multiple=True, help="role[:scope-code], repeatable")
@click.option("--org", "org_code", default=None, help="Organization the person works for or is affiliated with.")
@pass_ctx
@clear_errors
def users_create(ctx, username, password, display_name, roles, org_code):
    """Create a user, optionally with roles (e.g. --role community_committee:xiangdong)."""
    with unit_of_work(ctx.services.session_factory) as session:
        org_id = resolve_scope(session, "social_organization", org_code) if org_code else None
        user = user_store.create_user(session, username, password, display_name, organization_id=org_id)
        for spec in roles:
            role, _, scope = spec.partition(":")
            user_store.grant_role(session, user, role, resolve_scope(session, role, scope))
    click.echo(f"created {username}")


@users.command("grant")
@click.argument("username")
@click.argument("role")
@click.argument("scope", required=False, default="")
@pass_ctx
@clear_errors
def users_grant(ctx, username, role, scope):
    """Give USERNAME the ROLE in SCOPE (a town, community or organization code)."""
    with unit_of_work(ctx.services.session_factory) as session:
        user = access.get_user(session, username)
        user_store.grant_role(session, user, role, resolve_scope(session, role, scope))
    click.echo(f"{username} now holds {role} {scope}".rstrip())


@users.command("list")
@pass_ctx
@clear_errors
def users_list(ctx):
    """List users: username, display name, active or not, roles with their scopes; the last line counts them."""
    with unit_of_work(ctx.services.session_factory, readonly=True) as session:
        listed = user_store.list_users(session)
        for user in listed:
            roles = ", ".join(f"{g.role}@{access.scope_code(session, g.scope_type, g.scope_id)}" for g in user.grants)
            click.echo(f"{user.username:20} {pad(user.display_name or '', 14)} "
                       f"{'active' if user.active else 'inactive':8} {roles}")
    click.echo(f"{len(listed)} users")


@main.command()
@click.argument("key", default="seven_step_project")
@click.option("--user", "username", required=True, help="The organization staff member who applies.")
@click.option("--title", required=True)
@click.option("--item", "item_code", required=True, help="Catalog item code.")
@click.option("--community", "community_code", required=True)
@pass_ctx
@clear_errors
def start(ctx, key, username, title, item_code, community_code):
    """Start a project instance of process KEY."""
    with unit_of_work(ctx.services.session_factory) as session:
        user = access.get_user(session, username)
        item = access.find_catalog_item(session, community_code, item_code)
        catalog.check_open(item, catalog.this_year(ctx.services.settings.calendar_utc_offset_hours))
        organization_id = affiliations.organization_of(session, user, ctx.services.runtime.clock().date())
        instance = ctx.services.runtime.start_instance(
            session, key, user, {"title": title, "catalog_item_id": item.id, "organization_id": organization_id})
        click.echo(f"started instance {instance.id}")


@main.command()
@click.option("--user", "username", required=True)
@pass_ctx
@clear_errors
def tasks(ctx, username):
    """List the tasks USER can work on (claimed, assigned, or open for their roles)."""
    from engine.queries.inbox import InboxFilter, inbox_page

    with unit_of_work(ctx.services.session_factory, readonly=True) as session:
        user = access.get_user(session, username)
        page = inbox_page(session, user, InboxFilter(per_page=100))
        for item in page.items:
            task = item.task
            click.echo(f"{task.id}  step {task.step}  {task.role:24} {task.name}  (instance {task.instance_id})")
        if not page.items:
            click.echo("no tasks")


@main.command()
@click.argument("task_id")
@click.option("--user", "username", required=True)
@click.option("--data", default="{}", help="Form data as a JSON object.")
@pass_ctx
@clear_errors
def complete(ctx, task_id, username, data):
    """Complete TASK_ID as USER with form data."""
    try:
        values = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--data is not valid JSON: {exc.msg} at column {exc.colno}") from exc
    with unit_of_work(ctx.services.session_factory) as session:
        user = access.get_user(session, username)
        row = ctx.services.runtime.complete_task(session, task_id, user, values)
        click.echo(f"completed {row.name}")


@main.command()
@click.option("--state", default="ready", show_default=True,
              help="ready, locked, waiting, incident, completed or all")
@pass_ctx
@clear_errors
def jobs(ctx, state):
    """List service-task jobs waiting for workers."""
    with unit_of_work(ctx.services.session_factory, readonly=True) as session:
        rows = list_jobs(session, None if state == "all" else state)
        for job in rows:
            click.echo(f"{job.id:6}  {job.state:9} {job.topic:22} instance {job.instance_id}  {job.name}")
        if not rows:
            click.echo(f"no {state} jobs")


@main.command()
@click.option("--once", is_flag=True, help="Run one pass and exit.")
@pass_ctx
@clear_errors
def scheduler(ctx, once):
    """Fire due timers, one transaction per timer, until stopped; on SQLite, also copy the
    write-ahead log into the database file each pass, so that no step's commit has to."""
    logs.configure(ctx.settings.log_format, "scheduler")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    runtime, factory = ctx.services.runtime, ctx.services.session_factory
    from outbox.dispatch import deliver_pass  # e-mails and webhook calls, worded as the pages word them
    from workers.trial_sandbox import remove_expired
    next_prune = next_beat = 0.0
    log.info("scheduler started: a pass every %ss", ctx.settings.scheduler_interval)
    while not stopping:
        try:
            if time.monotonic() >= next_beat:  # readiness asks whether a scheduler beat lately
                with unit_of_work(factory) as session:
                    beat(session, ProcessKind.SCHEDULER, utcnow())
                next_beat = time.monotonic() + HEARTBEAT_SECONDS
            done = run_pass(runtime, factory)  # a timer that fails becomes an incident; the rest fire
            for timer_id in done.fired:
                log.info("fired timer %s", timer_id)
            # Projects an administrator chose to move onto a new version: a batch per pass.
            if migration_runs.run_pending(runtime, factory):
                log.info("moved a batch of projects onto a new version")
            delivered = deliver_pass(ctx.services)  # after the notifications' own transactions, never inside one
            if delivered.sent or delivered.failed:
                log.info("notifications sent %s, failed %s", delivered.sent, delivered.failed)
            if time.monotonic() >= next_prune:
                with unit_of_work(factory) as session:
                    removed = prune_abandoned(session)
                    forget_gone(session, utcnow())
                if removed:
                    log.info("removed %s file(s) of cancelled tasks", removed)
                if expired := remove_expired():  # trial runs' sandboxes nobody came back to
                    log.info("removed %s expired trial run sandbox(es)", expired)
                next_prune = time.monotonic() + PRUNE_INTERVAL_SECONDS
            checkpoint(ctx.services.db)
        except Exception as exc:  # the database away for a moment: log it, try again next pass
            if transient(exc):
                log.warning("the database is busy or away (%s); trying again in %ss",
                            str(getattr(exc, "orig", exc)).splitlines()[0], ctx.settings.scheduler_interval)
            else:
                log.exception("scheduler pass failed; trying again in %ss", ctx.settings.scheduler_interval)
        if once:
            break
        time.sleep(ctx.settings.scheduler_interval)


@bench.command("loop")
@click.option("--rounds", default=1000, show_default=True, help="consultation rounds before the project goes on")
@click.option("--postgres", metavar="URL", default=None, help="Also run it on this PostgreSQL database.")
def bench_loop(rounds, postgres):
    """Cost of a step at rounds 1, 100, 300 and 1,000 of the revise loop; stored bytes;
    whether the project then ran to payment."""
    from bench.loop_bench import run

    if not run(rounds, postgres_url=postgres, echo=click.echo):
        raise SystemExit(1)


@bench.command("ballots")
@click.option("--voters", default=50, show_default=True)
@click.option("--postgres", metavar="URL", default=None, help="Also run it on this PostgreSQL database.")
def bench_ballots(voters, postgres):
    """Every representative's ballot submitted at the same moment on one project: errors
    and p99 latency."""
    from bench.ballots_bench import run

    run(voters, postgres_url=postgres, echo=click.echo)


@bench.command("engine")
@click.option("--lifecycles", default=30, show_default=True)
@click.option("--postgres", metavar="URL", default=None, help="Also run the engine on this PostgreSQL database.")
@click.option("--serve-projects", default=8, show_default=True,
              help="Projects run at once in sanshe serve's process layout (0: skip).")
def bench_engine(lifecycles, postgres, serve_projects):
    """Seven-step lifecycles per second: persisted engine vs raw SpiffWorkflow in memory, every
    step a cache miss, and in sanshe serve's process layout (a real worker process)."""
    from bench.engine_bench import run

    run(lifecycles, postgres_url=postgres, serve_projects=serve_projects)
