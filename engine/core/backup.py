"""Backups of a live database and their restore into a fresh one.

SQLite: the online backup API copies a consistent snapshot while people and workers keep
writing (a plain file copy of a database in use can be torn: "database disk image is
malformed"). PostgreSQL: ``pg_dump`` (custom format, one consistent snapshot) and
``pg_restore``, which must be installed on the machine that runs the command.
"""
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL

from engine.errors import ConflictError, ValidationError

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ValidationError("An in-memory database cannot be backed up or restored.")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str], str | None]:
    """The libpq address of a SQLAlchemy PostgreSQL URL (password in the environment, not
    on the command line), and the schema its ``search_path`` option names, if any."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    schema = None
    options = url.query.get("options")
    for option in (options if isinstance(options, tuple) else [options] if options else []):
        for part in unquote(option).split():
            if part.startswith("-csearch_path="):
                schema = part.split("=", 1)[1].split(",")[0].strip('"')
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env, schema


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ValidationError(f"{name} is not installed on this machine (Debian: apt-get install postgresql-client).")
    return path


def backup(engine: Engine, target: Path) -> int:
    """Write a consistent copy of the database behind ``engine`` to ``target``, written
    under a temporary name first (a failed backup leaves no half file). Returns its size."""
    target = Path(target)
    if target.exists():
        raise ConflictError(f"{target} exists already; choose a new file name.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if engine.dialect.name == "sqlite":
            source = sqlite3.connect(_sqlite_path(engine.url), timeout=60)
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)  # all pages in one step: one snapshot, writers go on meanwhile (WAL)
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                copy.close()
                source.close()
        else:
            address, env, schema = _libpq(engine.url)
            command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"]
            if schema:
                command.append(f"--schema={schema}")
            _run(command + [address], env)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def restore(engine: Engine, source: Path) -> None:
    """Load the backup ``source`` into the (empty) database behind ``engine``."""
    source = Path(source)
    if not source.is_file():
        raise ValidationError(f"There is no backup file {source}.")
    with open(source, "rb") as handle:
        head = handle.read(16)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite and head != SQLITE_MAGIC or not sqlite and not head.startswith(PG_DUMP_MAGIC):
        kind = "SQLite" if head == SQLITE_MAGIC else "PostgreSQL" if head.startswith(PG_DUMP_MAGIC) else "unknown"
        raise ValidationError(f"{source} is a {kind} backup; the database to restore into is "
                              f"{'SQLite' if sqlite else 'PostgreSQL'}.")
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
    if tables:
        raise ConflictError("The database to restore into is not empty (it has tables); restore into a new, "
                            "empty database and point Sanshe at it.")
    engine.dispose()
    if sqlite:
        path = _sqlite_path(engine.url)
        backup_copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        target = sqlite3.connect(path, timeout=60)
        try:
            check = backup_copy.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise ValidationError(f"{source} is damaged: {check}")
            backup_copy.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
            backup_copy.close()
    else:
        address, env, _schema = _libpq(engine.url)
        _run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
              f"--dbname={address}", str(source)], env)


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise ValidationError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")

