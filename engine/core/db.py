"""Database connection, sessions and the one unit of work per entry point."""
import functools
import select
from collections.abc import Callable, Collection, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, String, Table, create_engine, event, inspect
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.errors import ConflictError, Text, ValidationError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# SQLite copies its write-ahead log back into the database file (a checkpoint, with an
# fsync) inside whichever commit crosses this many log pages. The scheduler checkpoints
# every pass (:func:`checkpoint`), so while it runs no step's commit pays for one; the
# threshold only bounds the log when nothing else is running.
WAL_AUTOCHECKPOINT_PAGES = 8000
# How long a SQLite writer waits for the write lock another program holds (a backup, an
# administrator's shell, a long migration: a minute and some) before its statement fails with "database is
# locked"; workers and the scheduler then back off and try again (:func:`transient`).
SQLITE_BUSY_SECONDS = 75.0
SQLITE_POOL_SIZE = 8
SQLITE_POOL_OVERFLOW = 56
# PostgreSQL connections a process keeps open (``SANSHE_DB_POOL_SIZE``). See make_engine.
PG_POOL_SIZE = 10
# Connections a process may open beyond the pool for a moment (a request that needs a
# second one while it holds its first, e.g. the web process's heartbeat); closed again
# when they come back to a full pool.
PG_POOL_OVERFLOW = 4
_readonly = ContextVar("sanshe_readonly", default=False)


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """The table a mapped class is declared on (``__table__``, typed as the Table it is)."""
    return cast(Table, model.__table__)


def _sqlite_pragmas(busy_seconds: float) -> Callable[[Any, object], None]:
    def apply(dbapi_connection: Any, _record: object) -> None:  # the driver's own connection
        cursor = dbapi_connection.cursor()
        # WAL lets readers (the inbox) run while a writer commits; NORMAL sync is safe with WAL
        # (a power cut may lose the last commits, never corrupt the file).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()
    return apply


def _alive(dbapi_connection: Any, _record: object, _proxy: object) -> None:
    """Refuse a pooled PostgreSQL connection the server has closed, without a round trip.

    An idle connection in good health has nothing to read: when its socket is readable
    (the server ended it: pg_terminate_backend, a restart, an idle timeout) or it is
    closed, the pool drops it and opens a new one (SQLAlchemy's pessimistic disconnect
    handling through the ``checkout`` event). A cut the socket cannot tell yet is caught by
    the statement that fails, and the web request is tried once more (webui/ops.py).
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError) as exc:
        raise DisconnectionError("the connection's socket is gone") from exc
    if readable:
        raise DisconnectionError("the server closed the connection")


def make_engine(url: str, sqlite_busy_seconds: float | None = None, pool_size: int | None = None) -> Engine:
    """A SQLAlchemy engine for ``url`` with the settings Sanshe relies on; on SQLite a
    writer waits up to ``sqlite_busy_seconds`` (default :data:`SQLITE_BUSY_SECONDS`) for
    the write lock; on PostgreSQL a process keeps ``pool_size`` connections (default
    :data:`PG_POOL_SIZE`)."""
    busy = SQLITE_BUSY_SECONDS if sqlite_busy_seconds is None else sqlite_busy_seconds
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a failed statement's message (which gets logged) must not carry
        # the values, e.g. a new user's password hash.
        # A connection per thread of a web process (gunicorn's 48): SQLite connections are
        # only open files, and a thread waiting for a free one would wait for nothing.
        engine = create_engine(url, connect_args={"timeout": busy}, hide_parameters=True,
                               pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_OVERFLOW)
        event.listen(engine, "connect", _sqlite_pragmas(busy))

        # pysqlite's own transaction handling defers BEGIN; take the write lock at the start
        # so two writers serialize instead of failing at commit with "database is locked".
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection: Any, _record: object) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN" if _readonly.get() else "BEGIN IMMEDIATE")

        return engine
    # PostgreSQL. The pool is the process's limit of transactions at once: on a 2-core
    # machine ten of them keep a web process busy, and more only wait for the CPU while
    # the server switches between them. A request that finds none free waits for one (up
    # to pool_timeout, then "busy, try again", 503, never an error 500) instead of opening
    # another: a pool of 10 with 20 more allowed, as before, opened and closed several
    # connections a second under 64 people (a new server process, and every statement
    # planned again on it), which made PostgreSQL's pages several times slower than
    # SQLite's. Two web processes, workers and the scheduler stay far under the server's
    # default of 100 connections.
    # Connections are checked when taken from the pool without asking the server
    # (:func:`_alive`); pool_pre_ping's SELECT 1 was two round trips (BEGIN, SELECT) more
    # per request, each a wait for the server process and for Python's GIL.
    engine = create_engine(url, pool_size=PG_POOL_SIZE if pool_size is None else pool_size,
                           max_overflow=PG_POOL_OVERFLOW, pool_timeout=30, hide_parameters=True)
    event.listen(engine, "checkout", _alive)
    return engine


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is the database being away for a moment, not a mistake: a dropped
    connection (PostgreSQL restarted, an administrator cut it, a network blip) or SQLite's
    write lock held elsewhere for longer than the busy timeout. Trying again later works."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, PoolTimeoutError):  # every connection of the pool busy for pool_timeout
        return True
    if isinstance(exc, OperationalError):
        message = str(getattr(exc, "orig", exc)).lower()
        return "database is locked" in message or "database is busy" in message or "server closed" in message \
            or "terminating connection" in message or "connection" in message and "closed" in message
    return False


def tune_for_workers(engine: Engine) -> Engine:
    """Job transactions on PostgreSQL commit without waiting for the WAL flush.

    Safe for exactly-once: a job's effects and its completion are one transaction, so a
    crash can only lose both together and the job runs again; nothing outside the database
    saw the lost commit. It roughly halves the time a short job transaction takes.
    """
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _async_commit(dbapi_connection: Any, _record: object) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = off")
            dbapi_connection.commit()
    return engine


def checkpoint(engine: Engine) -> int:
    """Copy SQLite's write-ahead log back into the database file, without waiting for or
    blocking readers and writers (a passive checkpoint). Returns how many of the log's
    pages the database file now holds; 0 on other databases.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return 0
    connection = engine.raw_connection()  # outside any transaction: the driver autocommits here
    try:
        cursor = connection.cursor()
        _busy, _log, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        cursor.close()
    finally:
        connection.close()
    return max(copied, 0)  # -1 when the database is not in WAL mode


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine`` whose objects stay readable after commit; over-long text is refused."""
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "before_flush", _refuse_overlong_text)
    return factory


# What people type into the common fields; other columns get the general message.
TOO_LONG = {
    "title": Text("The title is too long: at most %(count)s characters."),
    "display_name": Text("The display name is too long: at most %(count)s characters."),
    "username": Text("The username is too long: at most %(count)s characters."),
    "name": Text("The name is too long: at most %(count)s characters."),
}


def _refuse_overlong_text(session: Session, _context: object, _instances: object) -> None:
    """Refuse text longer than its column, on every database alike: PostgreSQL would fail
    the statement (a 500), SQLite would silently store it."""
    for obj in (*session.new, *session.dirty):
        state = inspect(obj)
        for column in state.mapper.columns:
            length = getattr(column.type, "length", None)
            if not isinstance(column.type, String) or not length:
                continue
            value = state.dict.get(column.key)  # only values in memory: never load one here
            if isinstance(value, str) and len(value) > length:
                template = TOO_LONG.get(column.key, Text("A text is too long: at most %(count)s characters."))
                message = Text(str(template), count=length)
                raise ValidationError(message, errors={column.key: [message]})


@contextmanager
def unit_of_work(session_factory: sessionmaker[Session], readonly: bool = False) -> Generator[Session, None, None]:
    """One transaction: commit on success, roll back on any error.

    ``readonly=True`` lets SQLite readers run beside a writer (no write lock is taken).
    A lost optimistic-lock race (another writer changed the instance first) surfaces as
    ``ConflictError``.
    """
    session = session_factory()
    token = _readonly.set(readonly)
    try:
        with session.begin():
            yield session
    except StaleDataError as exc:
        raise ConflictError("Someone else changed this process instance first; reload and try again.") from exc
    except OperationalError as exc:
        # PostgreSQL broke a lock cycle (a worker's job and a person's step on one instance)
        # by failing this transaction: nothing was written, trying again works.
        if getattr(getattr(exc, "orig", None), "sqlstate", None) in ("40P01", "40001"):
            raise ConflictError("Someone else changed this process instance first; reload and try again.") from exc
        raise
    finally:
        _readonly.reset(token)
        session.close()


@functools.cache
def _script_heads() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return set(ScriptDirectory.from_config(config).get_heads())


def migrations_current(session: Session) -> bool:
    """Whether the database's schema is at the newest migration the code knows."""
    from sqlalchemy import text

    if not inspect(session.connection()).has_table("alembic_version"):
        return False
    return set(session.scalars(text("SELECT version_num FROM alembic_version"))) == _script_heads()


def upgrade_schema(engine: Engine) -> None:
    """Create or upgrade the database schema with the Alembic migrations."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        # A migration that changes a table others refer to rebuilds it (copy, drop, rename).
        # SQLite must not check foreign keys meanwhile, and the switch works only outside a
        # transaction (our connections begin one on first use, hence the driver's own
        # connection): off for the migration, checked once it is done, then on again.
        # This is Alembic's documented procedure for SQLite.
        raw = connection.connection.driver_connection if sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            if raw is not None:
                broken = raw.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise ConflictError(f"The migration left rows pointing nowhere: {broken[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def copy_tables(source: Engine, target: Engine, names: Collection[str]) -> None:
    """Copy every row of the tables ``names`` from ``source`` into the same, empty tables of
    ``target`` (parents before children), in one transaction of ``target``."""
    tables = [t for t in Base.metadata.sorted_tables if t.name in names]
    with source.connect() as read, target.begin() as write:
        for table in tables:
            rows = [dict(row) for row in read.execute(table.select()).mappings()]
            if rows:
                write.execute(table.insert(), rows)
