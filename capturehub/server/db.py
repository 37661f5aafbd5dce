"""Database engine and sessions: SQLite (WAL) by default, PostgreSQL when configured.

Schema changes go through Alembic only; :func:`upgrade` runs the migrations at start-up so a
new data directory or database needs no separate step.
"""

from __future__ import annotations

import fcntl
import json
import select
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    any_,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from capturehub.datamanager.content_hash import digest_of_rows

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
WRITE_OPTION = "capturehub_write"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from pysqlite (which would BEGIN lazily, only before the
    # first write, leaving read-then-write sequences unprotected); see _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while one writer commits; busy_timeout makes concurrent writers
    # wait for the lock instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Reads straight from the operating system's page cache, shared by every connection of
    # the pool, instead of each connection warming its own 2 MB page cache.
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.close()
    # SQLite has no hash function; dataset versions digest each capture's rows with it
    # (versions/snapshot.py), as PostgreSQL does with its built-in sha256(). It is given a
    # capture's lines in any order and sorts them itself: sorting 15 lines in Python per
    # capture costs less than SQLite sorting a million and a half rows to feed them in order.
    dbapi_connection.create_function("capturehub_digest", 1, _digest, deterministic=True)


def _digest(rows: str | None) -> str | None:
    return None if rows is None else digest_of_rows(rows)


def _sqlite_begin(connection: Connection) -> None:
    # A writing transaction takes SQLite's write lock up front (BEGIN IMMEDIATE): it then waits
    # for other writers (busy_timeout) instead of failing when its read snapshot turns stale,
    # and its reads and writes are atomic together, like SELECT ... FOR UPDATE on PostgreSQL.
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# How many times the planner statistics were refreshed (ANALYZE) in this process, per database
# file. A SQLite connection reads the statistics once, with the schema, and ANALYZE does not
# change the schema, so each pooled connection re-reads them when it is handed out after a
# refresh ("ANALYZE sqlite_schema" does only that; see SQLite's ANALYZE documentation).
_statistics_generation: dict[str, int] = {}


def _sqlite_connected(url: str, _dbapi_connection: Any, record: Any) -> None:
    record.info["statistics"] = _statistics_generation.get(url, 0)  # read as it opens


def _sqlite_checkout(url: str, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    generation = _statistics_generation.get(url, 0)
    if record.info.get("statistics") == generation:
        return
    # It needs the write lock for a moment: when a writer holds it, do not wait, try again at
    # the next checkout (old statistics only make plans slower, never answers wrong).
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("ANALYZE sqlite_schema")
        record.info["statistics"] = generation
    except sqlite3.Error:
        pass
    finally:
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def id_among(column: Any, ids: list[int], session: Session) -> ColumnElement[bool]:
    """``column IN ids`` for a list of integer ids known in Python (a page of rows).

    On PostgreSQL the list goes as one array parameter (``= ANY(%s)``): a page of 100 ids as
    100 separate parameters took 4 ms to send and plan, as one array 2 ms. SQLite has no
    arrays, and its IN list costs little.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    return column.in_(ids)


def make_engine(url: str, *, pool_size: int = 20, pool_timeout: float = 30.0) -> Engine:
    """The engine of ``url`` with a fixed pool: ``pool_size`` connections, no overflow (the
    server sizes it to its request threads and workers, so a wait means overload, answered
    503 after ``pool_timeout`` seconds; see errors.py)."""
    pool = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        # use_lifo: the connection used last (its caches warm) is handed out next.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_use_lifo=True,
            **pool,
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "connect", partial(_sqlite_connected, url))
        event.listen(engine, "checkout", partial(_sqlite_checkout, url))
        return engine
    engine = create_engine(url, pool_use_lifo=True, json_deserializer=_json_loads, **pool)
    event.listen(engine, "checkin", _mark_idle)
    event.listen(engine, "checkout", partial(_ping_if_doubtful, engine.dialect))
    return engine


# A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "capturehub_idle_since"


def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_doubtful(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Ping a pooled PostgreSQL connection before handing it out only when it may be stale.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip (and a wake-up of the
    database's process) before each request's first statement, about a third of the round
    trips of a one-row lookup. A connection used a moment ago is alive unless the server has
    since ended it, and an ended backend leaves something to read on the socket (PostgreSQL's
    FATAL message, or the end of the stream), which a zero-timeout poll sees without a round
    trip. So the ping runs when the socket has something to read, or the connection has been
    idle for more than PING_AFTER_IDLE_SECONDS (a database restarted or a connection dropped
    by the network meanwhile, which may leave nothing to read). A connection that dies
    unnoticed between the poll and the statement fails that one request with a 503 and
    Retry-After (errors.py), and SQLAlchemy then replaces every connection of the pool older
    than the failure, as a failed ping does.
    """
    idle_since = record.info.get(_IDLE_SINCE)
    if idle_since is None:
        return  # just connected
    if time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS and not _readable(dbapi_connection):
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as error:
        # As pre-ping does: this connection and every older one are replaced, and the
        # checkout is retried on a new connection (whose failure to connect is a 503).
        raise InvalidatePoolError(f"ping before checkout failed: {error}") from error


def _readable(dbapi_connection: Any) -> bool:
    """Whether an idle connection's socket has anything to read (a zero-timeout poll)."""
    try:
        descriptor = dbapi_connection.fileno()
    except Exception:
        return True  # closed or broken: let the ping find out
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _json_loads(data: bytes | str) -> Any:
    """A JSON column's value as psycopg hands it over (UTF-8 bytes). ``json.loads`` of bytes
    first guesses their encoding, which costs about as much as parsing a small document: a
    page of 100 captures parses 200 of them (``schema`` and ``statistics``)."""
    return json.loads(data.decode() if isinstance(data, bytes) else data)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


# Any fixed number: the key of the PostgreSQL advisory lock that migrations hold.
MIGRATION_LOCK_KEY = 0x43415054  # "CAPT"


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema (idempotent).

    Every server and worker calls this at start, so a cluster's first start runs it in several
    processes at once: each waits for a lock held while migrating (an advisory lock on
    PostgreSQL, a lock file beside an SQLite database), then finds the schema at head and does
    nothing. Without it two processes create the same tables and one fails.
    """
    with _migration_lock(engine):
        command.upgrade(alembic_config(engine), "head")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        # A session lock on a connection of its own: Alembic's transaction stays its own.
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrating", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file is closed
        yield


class Database:
    """The engine and a session factory; one per process."""

    def __init__(self, url: str, *, pool_size: int = 20, pool_timeout: float = 30.0) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, pool_timeout=pool_timeout)
        # Read-only sessions see one snapshot on PostgreSQL (REPEATABLE READ; a read-only
        # transaction never gets a serialization failure), so an answer built from several
        # queries (statistics: labels, then values, then counts) is consistent. SQLite's
        # read transactions are snapshots already.
        readers = (
            self.engine
            if self.engine.dialect.name == "sqlite"
            else self.engine.execution_options(isolation_level="REPEATABLE READ")
        )
        self.sessions = sessionmaker(readers, expire_on_commit=False)
        # Reads that need no snapshot (authentication: one statement; a page of captures)
        # run without a transaction on PostgreSQL (autocommit, set on the driver's connection
        # without a round trip), which spares a BEGIN and a COMMIT round trip each: about a
        # third of the database round trips of a capture page.
        self.statement_sessions = (
            self.sessions
            if self.engine.dialect.name == "sqlite"
            else sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
        )
        self.write_sessions = sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error.

        ``write=False`` is for read-only work: on SQLite it does not take the write lock.
        """
        factory = self.write_sessions if write else self.sessions
        with factory() as session, session.begin():
            yield session

    def read(self, *, snapshot: bool = True) -> AbstractContextManager[Session]:
        """A read-only session: one snapshot for all its queries, or (``snapshot=False``)
        each query sees the latest committed data, which costs fewer round trips."""
        if snapshot:
            return self.session(write=False)
        return self._statements()

    @contextmanager
    def _statements(self) -> Iterator[Session]:
        with self.statement_sessions() as session, session.begin():
            yield session

    def refresh_planner_statistics(self) -> None:
        """Refresh SQLite's table statistics (``ANALYZE``), which its query planner needs to
        drive a filtered capture list from the most selective index (without them a metadata
        filter scans the whole project). Sampled (``analysis_limit``), so it takes
        milliseconds. PostgreSQL's autovacuum does this by itself."""
        if not self.is_sqlite:
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA analysis_limit=1000")
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        # The other pooled connections re-read them when next handed out (_sqlite_checkout).
        # Replacing the pool instead (engine.dispose()) was tried and reverted: for a moment
        # the server held no connection, and an fsck process closing the database then
        # removed the WAL index under the next connection ("disk I/O error" afterwards).
        _statistics_generation[self.url] = _statistics_generation.get(self.url, 0) + 1

    def reload_planner_statistics(self) -> None:
        """Have this process's SQLite connections re-read the planner statistics (another
        process on the same file refreshed them)."""
        if self.is_sqlite:
            _statistics_generation[self.url] = _statistics_generation.get(self.url, 0) + 1

    def dispose(self) -> None:
        self.engine.dispose()
