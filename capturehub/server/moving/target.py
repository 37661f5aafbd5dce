"""The new database: reached, checked to be empty (or a move of the same lab in progress),
brought to the newest schema, and the move's own record of progress kept in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from capturehub.server.db import make_engine, upgrade
from capturehub.server.moving.errors import MoveError, shown

# The move's record, beside the lab's tables. Written in the same transaction as the rows it
# describes, so that it is never ahead of or behind them. Not part of the models: the server
# never reads it, and it may be dropped once the move is done.
progress = MetaData()
MOVE = Table(
    "capturehub_move",
    progress,
    Column("id", Integer, primary_key=True),
    Column("source", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    # The old lab's state when its rows began to be copied (source.fingerprint).
    Column("fingerprint", Text, nullable=True),
    Column("rows_done", Boolean, nullable=False, default=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)
MOVED_TABLES = Table(
    "capturehub_move_table",
    progress,
    Column("table_name", String(255), primary_key=True),
    # JSON list of the primary key of the last row copied; rows are copied in key order.
    Column("last_key", Text, nullable=True),
    Column("copied", BigInteger, nullable=False, default=0),
    Column("done", Boolean, nullable=False, default=False),
)
MOVED_FILES = Table(
    "capturehub_move_file",
    progress,
    Column("key", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
)
PROGRESS_TABLES = {table.name for table in progress.sorted_tables}
ALEMBIC_TABLE = "alembic_version"


@dataclass
class MoveRecord:
    source: str
    fingerprint: str | None
    rows_done: bool
    finished: bool


def open_target(url: str, source_url: str, *, connections: int = 8) -> Engine:
    if url == source_url:
        raise MoveError("--to-database is the old lab's own database: give a new, empty one.")
    try:
        engine = make_engine(url, pool_size=connections)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise MoveError(
            f"Cannot reach the new database {shown(url)}: {reason}. Check the URL, that the "
            "server runs and that the database exists (PostgreSQL: createdb NAME)."
        ) from exc
    except Exception as exc:  # a malformed URL or a missing driver
        raise MoveError(f"Cannot use the new database {shown(url)}: {exc}") from exc
    return engine


def read_record(engine: Engine) -> MoveRecord | None:
    if not inspect(engine).has_table(MOVE.name):
        return None
    with engine.connect() as connection:
        row = connection.execute(select(MOVE).where(MOVE.c.id == 1)).one_or_none()
    if row is None:
        return None
    return MoveRecord(
        source=row.source,
        fingerprint=row.fingerprint,
        rows_done=bool(row.rows_done),
        finished=row.finished_at is not None,
    )


def occupied_tables(engine: Engine) -> dict[str, int]:
    """Tables of the new database that hold rows, with their row counts."""
    names = [
        name
        for name in inspect(engine).get_table_names()
        if name != ALEMBIC_TABLE and name not in PROGRESS_TABLES
    ]
    found = {}
    with engine.connect() as connection:
        for name in names:
            quoted = engine.dialect.identifier_preparer.quote(name)
            count = connection.scalar(text(f"SELECT COUNT(*) FROM {quoted}")) or 0
            if count:
                found[name] = int(count)
    return found


def prepare(engine: Engine, url: str, source: str) -> MoveRecord:
    """Start a move into an empty database, or find the move of the same lab to continue."""
    record = read_record(engine)
    if record is not None:
        if record.source != source:
            raise MoveError(
                f"The new database {shown(url)} holds a move of another lab ({record.source}), "
                f"not of {source}: give a new, empty database."
            )
        upgrade(engine)  # idempotent; a newer capturehub may continue an older move
        return record
    occupied = occupied_tables(engine)
    if occupied:
        listed = ", ".join(f"{name} ({count} rows)" for name, count in sorted(occupied.items()))
        raise MoveError(
            f"The new database {shown(url)} is not empty and is not a move of this lab in "
            f"progress: {listed}. Give a new, empty database (PostgreSQL: createdb NAME); "
            "do not start a server on it before the move."
        )
    upgrade(engine)
    progress.create_all(engine)
    with engine.begin() as connection:
        connection.execute(MOVE.insert().values(id=1, source=source, started_at=datetime.now(UTC)))
    return MoveRecord(source=source, fingerprint=None, rows_done=False, finished=False)


def record_fingerprint(engine: Engine, fingerprint: str) -> None:
    with engine.begin() as connection:
        connection.execute(MOVE.update().where(MOVE.c.id == 1).values(fingerprint=fingerprint))


def mark_rows_done(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(MOVE.update().where(MOVE.c.id == 1).values(rows_done=True))


def mark_finished(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            MOVE.update().where(MOVE.c.id == 1).values(finished_at=datetime.now(UTC))
        )


def advance_sequences(engine: Engine, tables: list[Table]) -> None:
    """Move each id sequence past the copied ids (PostgreSQL): rows were inserted with their
    ids, which does not advance a sequence, and the next insert would collide."""
    if engine.dialect.name != "postgresql":
        return
    quote = engine.dialect.identifier_preparer
    with engine.begin() as connection:
        for table in tables:
            keys = list(table.primary_key.columns)
            if len(keys) != 1 or not isinstance(keys[0].type, Integer | BigInteger):
                continue
            column = keys[0].name
            sequence = connection.scalar(
                select(func.pg_get_serial_sequence(quote.format_table(table), column))
            )
            if sequence is None:
                continue
            largest = connection.scalar(select(func.max(table.c[column]))) or 0
            # is_called false: the next value handed out is exactly largest + 1.
            connection.execute(select(func.setval(sequence, largest + 1, False)))
