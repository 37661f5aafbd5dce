"""Making a version: rows copied with INSERT ... SELECT, one statement per table, never a row
at a time in Python; then its counts and content hash read back from what was copied.

Copied, per capture chosen: its row's file fields (original key and sha256, columnar key,
format, size, samples, rates, schema), its metadata values and its segments, and the labels'
and values' names (``version_value``), so that renaming or deleting them later leaves the
version as it was. Nothing is copied in the blob store: the version refers to the capture's
files, which the capture lifecycle then keeps (pins.py).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from capturehub.datamanager.content_hash import ESCAPES
from capturehub.server.captures.query import CaptureListQuery
from capturehub.server.models import (
    RECORDING,
    Capture,
    CaptureMetadataValue,
    DatasetVersion,
    Label,
    LabelValue,
    Segment,
    VersionCapture,
    VersionMetadata,
    VersionSegment,
    VersionValue,
)

captures = Capture.__table__
labels = Label.__table__
label_values = LabelValue.__table__
metadata_values = CaptureMetadataValue.__table__
segments = Segment.__table__
values = VersionValue.__table__
version_captures = VersionCapture.__table__
version_metadata = VersionMetadata.__table__
version_segments = VersionSegment.__table__

# The capture fields a version keeps, in the same order in both tables.
CAPTURE_FIELDS = (
    "uuid",
    "name",
    "format",
    "file_size",
    "sha256",
    "blob_key",
    "columnar_key",
    "number_samples",
    "set_sample_rate",
    "calculated_sample_rate",
    "task_state",
    "schema",
    "created_at",
)
# The digest of a capture without metadata or segments: of no rows.
NO_ROWS_DIGEST = hashlib.sha256(b"").hexdigest()
# Lines hashed per batch read, and the memory PostgreSQL may sort them in.
HASH_BATCH = 50_000
SORT_MEMORY = "256MB"
first = itemgetter(0)


def copy_rows(
    session: Session, version: DatasetVersion, project_id: int, query: CaptureListQuery
) -> None:
    """Copy the chosen captures (each with its digest), their metadata and segments into
    ``version`` (flushed)."""
    _copy_values(session, project_id)
    sqlite = session.get_bind().dialect.name == "sqlite"
    if not sqlite:
        # The digests' and the listing's sorts in memory rather than in temporary files.
        session.execute(text(f"SET LOCAL work_mem = '{SORT_MEMORY}'"))
    # Computed once (MATERIALIZED). SQLite looks it up per copied row by a scalar subquery,
    # answered from an automatic index: a join with it let SQLite's planner start from the
    # (small) mapping and visit every capture's segments once per value (95 s for a million
    # segments). PostgreSQL joins it by hash.
    current = _current_values(project_id).cte("current_value").prefix_with("MATERIALIZED")

    def value_of(source: Any, column: str = "value_id") -> tuple[Any, Any]:
        """The rows of ``source`` with ``column`` of their label value (the FROM, the
        column)."""
        if sqlite:
            return source, (
                select(current.c[column])
                .where(current.c.label_value_id == source.c.label_value_id)
                .scalar_subquery()
            )
        joined = source.join(current, current.c.label_value_id == source.c.label_value_id)
        return joined, current.c[column]

    chosen = query.filtered(select(Capture.id), project_id, session)
    digests = _digests(sqlite, chosen, current, value_of)
    if sqlite:
        rows, digest = captures, digests
    else:
        rows = captures.outerjoin(digests, digests.c.capture_id == captures.c.id)
        digest = func.coalesce(digests.c.digest, NO_ROWS_DIGEST)
    session.execute(
        insert(VersionCapture).from_select(
            ["version_id", "capture_id", *CAPTURE_FIELDS, "digest"],
            select(
                literal(version.id, Integer),
                captures.c.id,
                *(captures.c[name] for name in CAPTURE_FIELDS),
                digest,
            )
            .select_from(rows)
            # A capture still recording has no file yet: it is left out (docs/recording.md).
            .where(captures.c.id.in_(chosen), captures.c.task_state != RECORDING),
        )
    )
    for table, source, bounds in (
        (VersionMetadata, metadata_values, ()),
        (VersionSegment, segments, ("start", "end")),
    ):
        copied, value = value_of(source)
        session.execute(
            insert(table).from_select(
                ["version_capture_id", "value_id", *bounds],
                select(version_captures.c.id, value, *(source.c[name] for name in bounds))
                .select_from(
                    version_captures.join(
                        copied, source.c.capture_id == version_captures.c.capture_id
                    )
                )
                .where(version_captures.c.version_id == version.id),
            )
        )


def _digests(sqlite: bool, chosen: Any, current: Any, value_of: Any) -> Any:
    """The digest of each chosen capture (content_hash.py: the SHA-256 of its metadata and
    segment lines, sorted), as a column of the captures' copy (SQLite) or a subquery
    (PostgreSQL) of capture id → digest for the captures that have rows. Computed from the
    rows being copied, in the statement that copies the captures: the content hash and diffs
    then read one digest per capture instead of every row (diff.py)."""
    metadata_rows, metadata_line = value_of(metadata_values, "metadata_line")
    segment_rows, segment_prefix = value_of(segments, "segment_prefix")
    segment_line = (
        segment_prefix
        + _text(segments.c.start)
        + literal("\t")
        + _text(segments.c.end)
        + literal("\n")
    )
    if sqlite:
        # Per capture, from the capture's rows by index (no sort of a million and a half
        # rows): its lines concatenated in any order, sorted by capturehub_digest (db.py).
        def lines_of(rows: Any, source: Any, line: Any) -> Any:
            return func.coalesce(
                select(func.group_concat(line, literal("")))
                .select_from(rows)
                .where(source.c.capture_id == captures.c.id)
                .correlate(captures)
                .scalar_subquery(),
                literal(""),
            )

        return func.capturehub_digest(
            lines_of(metadata_rows, metadata_values, metadata_line)
            + lines_of(segment_rows, segments, segment_line)
        )
    items = union_all(
        select(metadata_values.c.capture_id.label("capture_id"), metadata_line.label("item"))
        .select_from(metadata_rows)
        .where(metadata_values.c.capture_id.in_(chosen)),
        select(segments.c.capture_id.label("capture_id"), segment_line.label("item"))
        .select_from(segment_rows)
        .where(segments.c.capture_id.in_(chosen)),
    ).subquery("item")
    joined = func.string_agg(
        items.c.item, aggregate_order_by(literal(""), items.c.item.collate("C"))
    )
    digest = func.encode(func.sha256(func.convert_to(joined, "UTF8")), "hex")
    return (
        select(items.c.capture_id, digest.label("digest"))
        .group_by(items.c.capture_id)
        .subquery("digest")
    )


def _copy_values(session: Session, project_id: int) -> None:
    """Add a ``version_value`` for each of the project's label values whose names no row
    holds yet (new values, renamed labels or values)."""
    same = (
        select(values.c.id)
        .where(
            values.c.project_id == project_id,
            values.c.label_value_id == label_values.c.id,
            values.c.label == labels.c.name,
            values.c.value == label_values.c.value,
            values.c.label_type == labels.c.type,
            values.c.is_metadata == labels.c.is_metadata,
        )
        .correlate(label_values, labels)
    )
    session.execute(
        insert(VersionValue).from_select(
            ["project_id", "label_value_id", "is_metadata", "label", "label_type", "value"],
            select(
                literal(project_id, Integer),
                label_values.c.id,
                labels.c.is_metadata,
                labels.c.name,
                labels.c.type,
                label_values.c.value,
            )
            .select_from(label_values)
            .join(labels, labels.c.id == label_values.c.label_id)
            .where(labels.c.project_id == project_id, ~exists(same)),
        )
    )


def _current_values(project_id: int) -> Select[Any]:
    """label_value id → the ``version_value`` holding its names as they are now (one each:
    _copy_values adds a row only for names no row holds). Looked up per label value, not
    joined by names: the planner then expects one row per label value, as there are, and
    joins it by hash (PostgreSQL), where the join's estimate of one row had it drive the
    copies from the mapping, visiting every segment by value and then its capture."""
    same = (
        select(values.c.id)
        .where(
            values.c.project_id == project_id,
            values.c.label_value_id == label_values.c.id,
            values.c.label == labels.c.name,
            values.c.value == label_values.c.value,
            values.c.label_type == labels.c.type,
            values.c.is_metadata == labels.c.is_metadata,
        )
        .limit(1)
        .scalar_subquery()
    )
    tab = literal("\t")
    names = _escape(labels.c.name) + tab + _escape(label_values.c.value)
    return (
        select(
            label_values.c.id.label("label_value_id"),
            same.label("value_id"),
            # The digest's lines of a metadata value, and the start of a segment's.
            (literal("M\t") + names + literal("\n")).label("metadata_line"),
            (literal("S\t") + names + tab).label("segment_prefix"),
        )
        .select_from(label_values)
        .join(labels, labels.c.id == label_values.c.label_id)
        .where(labels.c.project_id == project_id)
    )


def summarize(session: Session, version: DatasetVersion) -> None:
    """Set the version's counts, label counts and content hash from its copied rows."""
    count, samples = session.execute(
        select(func.count(), func.coalesce(func.sum(version_captures.c.number_samples), 0)).where(
            version_captures.c.version_id == version.id
        )
    ).one()
    per_value = (
        select(version_segments.c.value_id, func.count().label("number"))
        .select_from(version_segments)
        .join(version_captures, version_captures.c.id == version_segments.c.version_capture_id)
        .where(version_captures.c.version_id == version.id)
        .group_by(version_segments.c.value_id)
        .subquery("per_value")
    )
    label_counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    total = 0
    for label, value, number in session.execute(
        select(values.c.label, values.c.value, per_value.c.number).join(
            per_value, per_value.c.value_id == values.c.id
        )
    ):
        label_counts[label][value] += int(number)
        total += int(number)
    session.execute(
        update(DatasetVersion)
        .where(DatasetVersion.id == version.id)
        .values(
            capture_count=int(count),
            sample_count=int(samples),
            segment_count=total,
            label_counts={
                label: dict(sorted(c.items())) for label, c in sorted(label_counts.items())
            },
            content_hash=content_hash(session, version.id),
        )
        .execution_options(synchronize_session=False)
    )


def content_hash(session: Session, version_id: int) -> str:
    """The version's content hash (see capturehub/datamanager/content_hash.py), from its
    capture rows and their digests: the database writes and sorts one line per capture;
    they are read in large batches and hashed as they come."""
    connection = session.connection()
    tab = literal("\t")
    line = (
        literal("C\t")
        + _escape(version_captures.c.name)
        + tab
        + version_captures.c.sha256
        + tab
        + version_captures.c.digest
        + literal("\n")
    ).label("line")
    # Code-point order: SQLite compares text as UTF-8 bytes; PostgreSQL must be told.
    order = line.collate("C") if connection.dialect.name == "postgresql" else line
    statement = select(line).where(version_captures.c.version_id == version_id).order_by(order)
    digest = hashlib.sha256()
    for batch in _fetch(connection, statement):
        digest.update("".join(map(first, batch)).encode("utf-8"))
    return digest.hexdigest()


def _fetch(connection: Connection, statement: Select[Any]) -> Iterator[list[Any]]:
    """The statement's rows in batches, straight from the driver's cursor (SQLAlchemy's rows
    cost more than the lines hashed); on PostgreSQL from a server-side cursor, so that a
    million lines are never all in memory. In ``connection``'s transaction."""
    compiled = statement.compile(dialect=connection.dialect)
    parameters = compiled.construct_params()
    driver = connection.connection.driver_connection
    assert driver is not None
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor(name="capturehub_listing")
        cursor.execute(str(compiled), parameters)
    else:
        cursor = driver.cursor()
        cursor.execute(str(compiled), [parameters[name] for name in compiled.positiontup or ()])
    try:
        while batch := cursor.fetchmany(HASH_BATCH):
            yield batch
    finally:
        cursor.close()


def _escape(column: Any) -> Any:
    """The listing's escaping (content_hash.escape), in SQL: the backslash first."""
    for character, written in ESCAPES:
        column = func.replace(column, character, written)
    return column


def _text(column: Any) -> Any:
    """An integer in decimal."""
    return cast(column, String)
