"""The old lab's database, opened so that it cannot be changed, read in one snapshot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from capturehub.server.db import MIGRATIONS_DIR
from capturehub.server.moving.errors import MoveError, shown


def head_revision() -> str | None:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def _read_only_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by hand (see _begin), so that every read of a copy sees one
    # snapshot; query_only refuses any write, whatever a bug in this module would try.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def open_source(url: str) -> Engine:
    """An engine on the old lab's database that cannot write to it.

    SQLite: the file is opened with ``mode=ro``. Another database: every transaction is
    read-only (REPEATABLE READ, so a copy sees one snapshot).
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise MoveError(
                f"There is no database at {path}: give the old lab's data directory with "
                "--data-dir (or CAPTUREHUB_DATA_DIR)."
            )
        engine = create_engine(
            f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true",
            poolclass=NullPool,
        )
        event.listen(engine, "connect", _read_only_sqlite)
        event.listen(engine, "begin", _begin)
        return engine
    engine = create_engine(url, poolclass=NullPool).execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    )
    return engine


def check_schema(engine: Engine, url: str) -> None:
    """The old database must be at the schema this capturehub makes (the copy maps tables
    one to one)."""
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise MoveError(f"Cannot read the old lab's database {shown(url)}: {exc}") from exc
    head = head_revision()
    if current is None:
        raise MoveError(f"{shown(url)} holds no capturehub database.")
    if current != head:
        raise MoveError(
            f"The old lab's database is at schema {current}, this capturehub makes {head}: "
            "start the old lab once with this version of capturehub (it upgrades its "
            "database at start), stop it, then move it."
        )


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction: everything read through it is one consistent state."""
    with engine.begin() as connection:
        yield connection


def fingerprint(connection: Connection, tables: list[Table]) -> str:
    """What changes when the old lab is written to: each table's rows, largest key and
    latest modification. Compared between an interrupted move and its continuation, and at
    the end of a move, to refuse mixing two states of the old lab."""
    parts: dict[str, list[Any]] = {}
    for table in tables:
        columns: list[Any] = [func.count()]
        columns += [func.max(column) for column in table.primary_key.columns]
        if "last_modified" in table.c:
            columns.append(func.max(table.c.last_modified))
        row = connection.execute(select(*columns).select_from(table)).one()
        parts[table.name] = [str(value) for value in row]
    return json.dumps(parts, sort_keys=True)


def changes(before: str, after: str) -> list[str]:
    """The tables whose fingerprint differs, described for a person."""
    old, new = json.loads(before), json.loads(after)
    described = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            then = old.get(name, ["absent"])[0]
            now = new.get(name, ["absent"])[0]
            described.append(f"{name} ({then} rows then, {now} now, or rows changed)")
    return described
