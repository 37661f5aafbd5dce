"""The lab's tables, found in the databases (never a list written here: a feature that adds a
table through a migration is moved too), and their rows copied in batches, ids kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    func,
    insert,
    select,
    tuple_,
)

from capturehub.server.models import Base
from capturehub.server.moving.errors import MoveError
from capturehub.server.moving.target import ALEMBIC_TABLE, MOVED_TABLES, PROGRESS_TABLES


@dataclass
class TablePair:
    """One table as read from the old database and as written to the new one."""

    name: str
    read: Table
    write: Table

    @property
    def columns(self) -> list[str]:
        return [column.name for column in self.read.columns]


def lab_tables(source: Connection, target: Engine) -> list[TablePair]:
    """Every table of the lab, parents before children (foreign keys), as the new database
    (made by the migrations) has them.

    The models' own table objects are used where they exist, so values convert the way the
    server converts them (SQLite's text dates, booleans and JSON); a table only a migration
    knows is read with the types the old database declares.
    """
    written = MetaData()
    written.reflect(target)
    read = MetaData()
    pairs = []
    for table in written.sorted_tables:
        if table.name == ALEMBIC_TABLE or table.name in PROGRESS_TABLES:
            continue
        model = Base.metadata.tables.get(table.name)
        if model is not None:
            pairs.append(TablePair(table.name, model, model))
            continue
        if not source.dialect.has_table(source, table.name):
            raise MoveError(
                f"The new database has a table {table.name} the old lab lacks: both must be "
                "at the same schema."
            )
        pairs.append(TablePair(table.name, Table(table.name, read, autoload_with=source), table))
    for pair in pairs:
        missing = set(pair.columns) - {column.name for column in pair.write.columns}
        if missing:
            raise MoveError(
                f"Table {pair.name} of the old lab has columns the new database lacks: "
                f"{sorted(missing)}."
            )
    return pairs


def _utc(value: Any) -> Any:
    # SQLite keeps the server's UTC times without their zone; PostgreSQL would read a naive
    # time in its session's zone.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _key_text(row: dict[str, Any], keys: list[str]) -> str:
    return json.dumps([row[key] for key in keys])


@dataclass
class TableProgress:
    copied: int
    last_key: list[Any] | None
    done: bool


def _progress(target: Engine, name: str) -> TableProgress:
    with target.begin() as connection:
        row = connection.execute(
            select(MOVED_TABLES).where(MOVED_TABLES.c.table_name == name)
        ).one_or_none()
        if row is None:
            connection.execute(insert(MOVED_TABLES).values(table_name=name, copied=0, done=False))
            return TableProgress(0, None, False)
    last = json.loads(row.last_key) if row.last_key else None
    return TableProgress(int(row.copied), last, bool(row.done))


def copy_rows(
    source: Connection,
    target: Engine,
    pair: TablePair,
    batch_size: int,
    on_batch: Callable[[str, int], None],
) -> int:
    """Copy the rows of one table not yet copied, in key order, ``batch_size`` at a time.

    Each batch and the note of how far the copy got are committed together: an interruption
    loses at most the batch in flight, and the next run starts after the last committed one.
    Returns the number of rows copied by this call.
    """
    progress = _progress(target, pair.name)
    if progress.done:
        return 0
    keys = [column.name for column in pair.read.primary_key.columns]
    dates = [column.name for column in pair.read.columns if isinstance(column.type, DateTime)]
    columns = [pair.read.c[name] for name in pair.columns]
    copied, last = progress.copied, progress.last_key
    while True:
        query = select(*columns)
        if keys:
            key_columns = [pair.read.c[key] for key in keys]
            query = query.order_by(*key_columns).limit(batch_size)
            if last is not None:
                query = query.where(
                    key_columns[0] > last[0]
                    if len(keys) == 1
                    else tuple_(*key_columns) > tuple_(*last)
                )
        # A table without a primary key (none today) cannot be read in resumable slices: it is
        # copied whole, in one transaction.
        rows = [dict(row) for row in source.execute(query).mappings()]
        for row in rows:
            for name in dates:
                row[name] = _utc(row[name])
        finished = not keys or len(rows) < batch_size
        with target.begin() as connection:
            if rows:
                connection.execute(insert(pair.write), rows)
            values: dict[str, Any] = {"copied": copied + len(rows), "done": finished}
            if rows and keys:
                values["last_key"] = _key_text(rows[-1], keys)
            connection.execute(
                MOVED_TABLES.update().where(MOVED_TABLES.c.table_name == pair.name).values(values)
            )
        copied += len(rows)
        if rows and keys:
            last = [rows[-1][key] for key in keys]
        on_batch(pair.name, copied)
        if finished:
            return copied - progress.copied


def count_rows(connection: Connection, table: Table) -> int:
    return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def compare_counts(source: Connection, target: Engine, pairs: list[TablePair]) -> dict[str, Any]:
    """Each table's rows in the old and the new database: {name: (old, new)}."""
    counts = {}
    with target.connect() as connection:
        for pair in pairs:
            counts[pair.name] = (count_rows(source, pair.read), count_rows(connection, pair.write))
    return counts
