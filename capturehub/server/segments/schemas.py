"""The segment's and the segmenter's JSON shapes (wire-api §6).

Bounds are sample indices, both **inclusive**, like the watch manifest's ``end`` (``n - 1`` for
a segment covering a whole capture of ``n`` samples): a segment covers ``end - start + 1``
samples and ``0 <= start < end <= max_sequence``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row, Select

from capturehub.server.formats import timestamp
from capturehub.server.models import Segment, Segmenter
from capturehub.server.relationships.columns import labelled_fields, select_labelled


def segment_json(
    *,
    uuid: str,
    capture_uuid: str,
    label_uuid: str,
    label_name: str,
    value_uuid: str,
    value: str,
    start: int,
    end: int,
    segmenter: int | None,
    created_at: str | None,
    last_modified: str | None,
) -> dict[str, Any]:
    """Timestamps come formatted (formats.timestamp): a bulk answer formats its one ``now``
    once, not 20,000 times."""
    return {
        "uuid": uuid,
        "capture": capture_uuid,
        "label": label_uuid,
        "label_value": value_uuid,
        "label_name": label_name,
        "value": value,
        "capture_sample_sequence_start": start,
        "capture_sample_sequence_end": end,
        "segmenter": segmenter,
        "created_at": created_at,
        "last_modified": last_modified,
    }


def select_segments(project_id: int) -> Select[*tuple[Any, ...]]:
    """Every segment of a project with what its JSON shows, in capture and sample order."""
    return select_labelled(
        Segment, project_id, Segment.start, Segment.end, Segment.segmenter_id
    ).order_by(Segment.capture_id, Segment.start, Segment.id)


def row_json(row: Row[Any]) -> dict[str, Any]:
    return segment_json(
        **labelled_fields(row), start=row.start, end=row.end, segmenter=row.segmenter_id
    )


class SegmenterCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    custom: bool = False
    parameters: dict[str, Any] | None = None


def segmenter_json(segmenter: Segmenter) -> dict[str, Any]:
    return {
        "id": segmenter.id,
        "name": segmenter.name,
        "custom": segmenter.custom,
        "parameters": segmenter.parameters or {},
        "created_at": timestamp(segmenter.created_at),
    }
