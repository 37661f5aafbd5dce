"""Making a version: rows copied with INSERT ... SELECT, one statement per table, never a row
at a time in Python; then its counts and content hash read back from what was copied.

Copied, per capture chosen: its row's file fields (original key and sha256, columnar key,
format, size, samples, rates, schema), its metadata values and its segments, and the labels'
and values' names (``version_value``), so that renaming or deleting them later leaves the
version as it was. Nothing is copied in the blob store: the version refers to the capture's
files, which the capture lifecycle then keeps (pins.py).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Integer, and_, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from capturehub.datamanager.content_hash import capture_line, escape, hash_of_lines
from capturehub.server.captures.query import CaptureListQuery
from capturehub.server.models import (
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


def copy_rows(
    session: Session, version: DatasetVersion, project_id: int, query: CaptureListQuery
) -> None:
    """Copy the chosen captures, their metadata and segments into ``version`` (flushed)."""
    _copy_values(session, project_id)
    chosen = query.filtered(select(Capture.id), project_id, session)
    session.execute(
        insert(VersionCapture).from_select(
            ["version_id", "capture_id", *CAPTURE_FIELDS],
            select(
                literal(version.id, Integer),
                captures.c.id,
                *(captures.c[name] for name in CAPTURE_FIELDS),
            ).where(captures.c.id.in_(chosen)),
        )
    )
    session.execute(
        insert(VersionMetadata).from_select(
            ["version_capture_id", "value_id"],
            select(version_captures.c.id, _value_of(project_id, metadata_values.c.label_value_id))
            .select_from(version_captures)
            .join(metadata_values, metadata_values.c.capture_id == version_captures.c.capture_id)
            .where(version_captures.c.version_id == version.id),
        )
    )
    session.execute(
        insert(VersionSegment).from_select(
            ["version_capture_id", "value_id", "start", "end"],
            select(
                version_captures.c.id,
                _value_of(project_id, segments.c.label_value_id),
                segments.c.start,
                segments.c.end,
            )
            .select_from(version_captures)
            .join(segments, segments.c.capture_id == version_captures.c.capture_id)
            .where(version_captures.c.version_id == version.id),
        )
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


def _value_of(project_id: int, label_value_id: Any) -> Any:
    """The ``version_value`` holding a label value's names as they are now, as a scalar
    subquery per row. A join with the (small) mapping let SQLite's planner start from the
    values and visit every capture's segments once per value: 95 s for a million segments."""
    return (
        select(values.c.id)
        .select_from(label_values)
        .join(labels, labels.c.id == label_values.c.label_id)
        .join(
            values,
            and_(
                values.c.project_id == project_id,
                values.c.label_value_id == label_values.c.id,
                values.c.label == labels.c.name,
                values.c.value == label_values.c.value,
                values.c.label_type == labels.c.type,
                values.c.is_metadata == labels.c.is_metadata,
            ),
        )
        .where(label_values.c.id == label_value_id)
        .limit(1)
        .scalar_subquery()
    )


def _current_values(project_id: int) -> Any:
    """label_value id → the ``version_value`` holding its names as they are now."""
    return (
        select(label_values.c.id.label("label_value_id"), values.c.id.label("value_id"))
        .select_from(label_values)
        .join(labels, labels.c.id == label_values.c.label_id)
        .join(
            values,
            and_(
                values.c.project_id == project_id,
                values.c.label_value_id == label_values.c.id,
                values.c.label == labels.c.name,
                values.c.value == label_values.c.value,
                values.c.label_type == labels.c.type,
                values.c.is_metadata == labels.c.is_metadata,
            ),
        )
        .where(labels.c.project_id == project_id)
        .subquery("current_values")
    )


def summarize(session: Session, version: DatasetVersion) -> None:
    """Set the version's counts, label counts and content hash from its copied rows."""
    count, samples = session.execute(
        select(func.count(), func.coalesce(func.sum(version_captures.c.number_samples), 0)).where(
            version_captures.c.version_id == version.id
        )
    ).one()
    label_counts: dict[str, dict[str, int]] = defaultdict(dict)
    total = 0
    for label, value, number in session.execute(
        select(values.c.label, values.c.value, func.count())
        .select_from(version_segments)
        .join(version_captures, version_captures.c.id == version_segments.c.version_capture_id)
        .join(values, values.c.id == version_segments.c.value_id)
        .where(version_captures.c.version_id == version.id)
        .group_by(values.c.label, values.c.value)
    ):
        label_counts[label][value] = int(number)
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
    """The version's content hash (see capturehub/datamanager/content_hash.py), recomputed
    from its rows."""
    connection = session.connection()
    names: dict[int, str] = {}
    lines: list[str] = []
    for row_id, name, sha256 in connection.execute(
        select(version_captures.c.id, version_captures.c.name, version_captures.c.sha256).where(
            version_captures.c.version_id == version_id
        )
    ):
        names[row_id] = escaped = escape(name)
        lines.append(capture_line(escaped, sha256))
    texts = {
        value_id: f"{escape(label)}\t{escape(value)}"
        for value_id, label, value in connection.execute(
            # The project's values: a few rows, fewer to read than finding the version's own.
            select(values.c.id, values.c.label, values.c.value).where(
                values.c.project_id
                == select(DatasetVersion.project_id)
                .where(DatasetVersion.id == version_id)
                .scalar_subquery()
            )
        )
    }
    in_version = version_captures.c.version_id == version_id
    for row_id, value_id in connection.execute(
        select(version_metadata.c.version_capture_id, version_metadata.c.value_id)
        .join(version_captures, version_captures.c.id == version_metadata.c.version_capture_id)
        .where(in_version)
    ):
        lines.append(f"M\t{names[row_id]}\t{texts[value_id]}\n")
    for row_id, value_id, start, end in connection.execute(
        select(
            version_segments.c.version_capture_id,
            version_segments.c.value_id,
            version_segments.c.start,
            version_segments.c.end,
        )
        .join(version_captures, version_captures.c.id == version_segments.c.version_capture_id)
        .where(in_version)
    ):
        lines.append(f"S\t{names[row_id]}\t{texts[value_id]}\t{start}\t{end}\n")
    return hash_of_lines(lines)
