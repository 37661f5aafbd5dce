"""Reading a version back: its captures as they were (with their metadata and segments), and
their files and samples from the blobs the version pins."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from capturehub.server.context import AppContext
from capturehub.server.db import id_among
from capturehub.server.errors import BadRequest, NotFound
from capturehub.server.formats import timestamp
from capturehub.server.models import (
    DatasetVersion,
    VersionCapture,
    VersionMetadata,
    VersionSegment,
    VersionValue,
)
from capturehub.server.storage_keys import CaptureFiles

BATCH = 1000
captures = VersionCapture.__table__


def version_json(version: DatasetVersion) -> dict[str, Any]:
    return {
        "uuid": version.uuid,
        "name": version.name,
        "description": version.description,
        "where": version.where or {},
        "created_at": timestamp(version.created_at),
        "content_hash": version.content_hash,
        "captures": version.capture_count,
        "samples": version.sample_count,
        "segments": version.segment_count,
        "labels": version.label_counts or {},
    }


def capture_rows(session: Session, version_id: int) -> Iterator[list[Any]]:
    """The version's capture rows in name order, in batches."""
    result = session.connection().execute(
        select(captures)
        .where(captures.c.version_id == version_id)
        .order_by(captures.c.name, captures.c.id)
        .execution_options(yield_per=BATCH)
    )
    for rows in result.partitions():
        yield list(rows)


def relations(
    session: Session, row_ids: list[int]
) -> tuple[dict[int, dict[str, str]], dict[int, list[dict[str, Any]]]]:
    """Metadata ({key: value}) and segments (in sample order) of these version captures."""
    metadata: dict[int, dict[str, str]] = defaultdict(dict)
    for row_id, label, value in session.execute(
        select(VersionMetadata.version_capture_id, VersionValue.label, VersionValue.value)
        .join(VersionValue, VersionValue.id == VersionMetadata.value_id)
        .where(id_among(VersionMetadata.version_capture_id, row_ids, session))
        .order_by(VersionValue.label)
    ):
        metadata[row_id][label] = value
    segments: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row_id, label, value, start, end in session.execute(
        select(
            VersionSegment.version_capture_id,
            VersionValue.label,
            VersionValue.value,
            VersionSegment.start,
            VersionSegment.end,
        )
        .join(VersionValue, VersionValue.id == VersionSegment.value_id)
        .where(id_among(VersionSegment.version_capture_id, row_ids, session))
        .order_by(
            VersionSegment.version_capture_id,
            VersionSegment.start,
            VersionSegment.end,
            VersionValue.label,
            VersionValue.value,
        )
    ):
        segments[row_id].append({"label": label, "value": value, "start": start, "end": end})
    return metadata, segments


def capture_json(
    row: Any, metadata: dict[str, str], segments: list[dict[str, Any]]
) -> dict[str, Any]:
    """A version's capture: the capture list's fields it keeps, with its metadata and
    segments of that moment."""
    return {
        "uuid": row.uuid,
        "name": row.name,
        "created_at": timestamp(row.created_at),
        "format": row.format,
        "file_size": row.file_size,
        "sha256": row.sha256,
        "number_samples": row.number_samples,
        "max_sequence": None if row.number_samples is None else row.number_samples - 1,
        "set_sample_rate": row.set_sample_rate,
        "calculated_sample_rate": row.calculated_sample_rate,
        "task_state": row.task_state,
        "schema": row.schema or {},
        "metadata": metadata,
        "segments": segments,
    }


def listing(context: AppContext, version_id: int) -> Iterator[list[dict[str, Any]]]:
    """Every capture of the version as JSON, in batches (a streamed list)."""
    with context.db.read() as session:
        for rows in capture_rows(session, version_id):
            metadata, segments = relations(session, [row.id for row in rows])
            yield [
                capture_json(row, metadata.get(row.id, {}), segments.get(row.id, []))
                for row in rows
            ]


def version_capture(session: Session, version_id: int, capture_uuid: str) -> VersionCapture:
    found = session.scalar(
        select(VersionCapture).where(
            VersionCapture.version_id == version_id, VersionCapture.uuid == capture_uuid
        )
    )
    if found is None:
        raise NotFound(f"Capture {capture_uuid} is not in this version.")
    return found


def columnar_key(context: AppContext, capture: VersionCapture) -> str:
    """The pinned columnar copy. A capture still processing when the version was made has its
    copy made later, from the same pinned original, under the key that belongs with it."""
    if capture.columnar_key:
        return capture.columnar_key
    derived = CaptureFiles.of(capture.blob_key).columnar
    if context.blobs.exists(derived):
        return derived
    raise BadRequest(
        f"Capture {capture.name!r} of this version has no samples: it was "
        f"{capture.task_state} when the version was made and has no columnar copy."
    )
