"""Captures for the lookups section at scale (``--scale 1000000``), loaded set-based.

Sending a million rows through SQLAlchemy's executemany takes longer than the measurement; on
PostgreSQL the rows are made by the database itself (``INSERT ... SELECT generate_series``),
the same shapes as :func:`benchmarks.stats_bench.populate` writes: one capture row per number
(named ``capture-00042.csv``, created a millisecond apart) and one value of each metadata key
per capture, drawn at random from the key's values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, select, text

from tests.servers import POSTGRES_ADMIN_URL, Account, ServerProcess, new_server

CAPTURES_SQL = """
INSERT INTO capture (uuid, project_id, name, format, file_size, sha256, blob_key, version,
    number_samples, max_sequence, set_sample_rate, task_state, schema, statistics,
    created_at, last_modified)
SELECT gen_random_uuid()::text, :project_id,
    'capture-' || CASE WHEN g < 100000 THEN lpad(g::text, 5, '0') ELSE g::text END || '.csv',
    '.csv', 100000, repeat('0', 64), 'bench/' || g, 1, 5000, 4999, 50.0, 'SUCCESS',
    '{}', '{}', :start + g * interval '1 millisecond', :start + g * interval '1 millisecond'
FROM generate_series(0, :count - 1) AS g
"""

# One value per key and capture; random() is evaluated per row (the arrays are the keys'
# value ids).
METADATA_SQL = """
INSERT INTO capture_metadata_value (uuid, capture_id, label_id, label_value_id,
    capture_created_at, created_at, last_modified)
SELECT gen_random_uuid()::text, c.id, v.label_id,
    v.ids[1 + floor(random() * array_length(v.ids, 1))::int], c.created_at, c.created_at,
    c.created_at
FROM capture AS c
CROSS JOIN (
    SELECT label_id, array_agg(id ORDER BY id) AS ids FROM label_value
    WHERE label_id = ANY(:key_ids) GROUP BY label_id
) AS v
WHERE c.project_id = :project_id
"""


def populate_set_based(
    context: Any, project_uuid: str, keys: list[dict[str, Any]], captures: int
) -> list[str]:
    """Insert ``captures`` captures and their metadata in two statements (PostgreSQL only);
    returns a sample of 10,000 capture uuids for the lookups by uuid."""
    from datetime import UTC, datetime

    if context.db.engine.dialect.name != "postgresql":
        raise SystemExit("--scale loads rows set-based on PostgreSQL only: --backend postgresql")
    with context.db.engine.begin() as connection:
        project_id = connection.execute(
            text("SELECT id FROM project WHERE uuid = :uuid"), {"uuid": project_uuid}
        ).scalar_one()
        key_ids = list(
            connection.execute(
                text("SELECT id FROM label WHERE uuid = ANY(:uuids)"),
                {"uuids": [key["uuid"] for key in keys]},
            ).scalars()
        )
        connection.execute(
            text(CAPTURES_SQL),
            {
                "project_id": project_id,
                "count": captures,
                "start": datetime(2026, 1, 1, tzinfo=UTC),
            },
        )
        connection.execute(text(METADATA_SQL), {"project_id": project_id, "key_ids": key_ids})
        # What the upload path does in the same transaction as each insert.
        connection.execute(
            text("UPDATE project SET capture_count = capture_count + :n WHERE id = :id"),
            {"n": captures, "id": project_id},
        )
        return list(
            connection.execute(
                text(
                    "SELECT uuid FROM capture WHERE project_id = :id ORDER BY random() LIMIT 10000"
                ),
                {"id": project_id},
            ).scalars()
        )


def random_cursors(process: Any, project_uuid: str, count: int) -> list[str]:
    """``count`` cursors of the default order (``after=`` values), each just after a capture
    drawn at random: the starting points of the cursor-paging measurement. A client gets its
    cursors from ``next_cursor``; drawing them here spares reading pages to find them."""
    from capturehub.server.captures.paging import Cursor
    from capturehub.server.models import Capture, Project

    context = process.context()
    try:
        with context.db.read() as session:
            project_id = session.scalars(
                select(Project.id).where(Project.uuid == project_uuid)
            ).one()
            rows = session.execute(
                select(Capture.created_at, Capture.id)
                .where(Capture.project_id == project_id)
                .order_by(func.random())
                .limit(count)
            ).all()
    finally:
        context.db.dispose()
    return [
        Cursor("created_at", created_at, capture_id).encode() for created_at, capture_id in rows
    ]


# What a kept database remembers of its load, for the next run to log in and draw from.
STATE_TABLE = "benchmark_lookups_state"


@dataclass
class LoadedProject:
    """A server on the lookups database, logged in, and the project loaded in it."""

    process: ServerProcess
    api: httpx.Client
    project: str
    uuids: list[str]
    kept: bool  # True when the database is kept after the run (--scale on PostgreSQL)


def kept_database_name(captures: int) -> str:
    """The name of the database kept for ``captures`` captures at the schema's newest
    migration: a schema change makes a new one, so a kept load never meets newer code."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from capturehub.server.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head() or "base"
    return f"capturehub_lookups_{captures}_{head}"


def open_loaded_project(
    backend: str, server_dir: Path, captures: int, *, set_based: bool, reload: bool
) -> LoadedProject:
    """A started server on a project of ``captures`` captures.

    At scale (``set_based``, PostgreSQL) the loaded database is kept between runs under
    :func:`kept_database_name` and used again when present, which spares the load (about
    220 s for 1,000,000 captures); ``reload`` drops it and loads it again. Other runs load
    a fresh database that is dropped at the end.
    """
    from benchmarks.stats_bench import logged_in, seed_project

    if not (set_based and backend == "postgresql"):
        process = new_server(backend, server_dir)
        api = logged_in(process)
        project, uuids, _label = seed_project(process, api, captures, 0, set_based=set_based)
        return LoadedProject(process, api, project, uuids, kept=False)
    name = kept_database_name(captures)
    process = ServerProcess(
        backend="postgresql", data_dir=server_dir, database_url=_database_url(name)
    )
    state = None if reload else _saved_state(name)
    if state is not None:
        username, password, project, uuids = state
        process.start()
        token = process.token(Account(username=username, password=password, team=""))
        api = httpx.Client(
            base_url=process.url, timeout=600, headers={"Authorization": f"Bearer {token}"}
        )
        print(f"  [postgresql] {captures} captures kept in database {name} (--reload: load again)")
        return LoadedProject(process, api, project, uuids, kept=True)
    # No such database, one left half-loaded by an interrupted run, or --reload: from empty.
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    account = process.create_account("bench", "bench")
    process.start()
    try:
        api = process.http(account, timeout=600)
        project, uuids, _label = seed_project(process, api, captures, 0, set_based=True)
        _save_state(name, account, project, uuids)
    except BaseException:
        process.stop()  # the database stays, unmarked: the next run loads it again
        raise
    return LoadedProject(process, api, project, uuids, kept=True)


def _database_url(name: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def _saved_state(name: str) -> tuple[str, str, str, list[str]] | None:
    """The account, project and uuid sample a finished load saved in database ``name``, or
    None (no such database, or its load did not finish)."""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        known = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if known.fetchone() is None:
            return None
    with psycopg.connect(_driver_url(name), autocommit=True) as connection:
        if connection.execute("SELECT to_regclass(%s)", (STATE_TABLE,)).fetchone() == (None,):
            return None
        row = connection.execute(
            f"SELECT username, password, project, uuids FROM {STATE_TABLE}"
        ).fetchone()
    if row is None:
        return None
    return row[0], row[1], row[2], list(row[3])


def _save_state(name: str, account: Account, project: str, uuids: list[str]) -> None:
    """Written last, so that only a finished load is used again."""
    with psycopg.connect(_driver_url(name), autocommit=True) as connection:
        connection.execute(
            f"CREATE TABLE {STATE_TABLE} (username text, password text, project text, uuids text[])"
        )
        connection.execute(
            f"INSERT INTO {STATE_TABLE} VALUES (%s, %s, %s, %s)",
            (account.username, account.password, project, uuids),
        )


def _driver_url(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def close_loaded_project(loaded: LoadedProject) -> None:
    """Stop the server; drop its database unless it is kept for the next run."""
    loaded.api.close()
    if loaded.kept:
        loaded.process.stop()
    else:
        loaded.process.close()
