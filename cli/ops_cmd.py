"""Commands for operators: back up the live database, restore a backup into a new one."""
from pathlib import Path

import click

from engine.core import backup as backups

from .app import clear_errors, main, pass_ctx


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
@clear_errors
def backup_command(ctx, file):
    """Write a consistent copy of the database to FILE while Sanshe keeps running (SQLite:
    the online backup API; PostgreSQL: pg_dump in its custom format)."""
    size = backups.backup(ctx.services.db, file)
    click.echo(f"backed up {ctx.services.db.url.render_as_string(hide_password=True)} to {file} ({size:,} bytes)")


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
@clear_errors
def restore_command(ctx, file):
    """Load the backup FILE into the configured database, which must be new and empty;
    then start Sanshe on it (SQLite: the backup API; PostgreSQL: pg_restore)."""
    backups.restore(ctx.services.db, file)
    click.echo(f"restored {file} into {ctx.services.db.url.render_as_string(hide_password=True)}")
