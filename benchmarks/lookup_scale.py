"""Captures for the lookups section at scale (``--scale 1000000``), loaded set-based.

Sending a million rows through SQLAlchemy's executemany takes longer than the measurement; on
PostgreSQL the rows are made by the database itself (``INSERT ... SELECT generate_series``),
the same shapes as :func:`benchmarks.stats_bench.populate` writes: one capture row per number
(named ``capture-00042.csv``, created a millisecond apart) and one value of each metadata key
per capture, drawn at random from the key's values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

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
