"""Statistics and summaries computed with a fixed number of queries, whatever the project size.

The database aggregates (GROUP BY) and Python assembles the per-capture objects from a handful
of dictionaries: six queries for the statistics of 10 or 10,000 captures.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capturehub.server.models import (
    RECORDING,
    Capture,
    CaptureMetadataValue,
    Label,
    LabelValue,
    Project,
    Segment,
)

BATCH = 500


@dataclass
class _Value:
    id: int
    label_id: int
    uuid: str
    text: str
    number: float | None
    color: str


@dataclass
class _Label:
    id: int
    uuid: str
    name: str
    type: str
    is_metadata: bool


def _labels(session: Session, project: Project) -> tuple[list[_Label], dict[int, list[_Value]]]:
    labels = [
        _Label(*row)
        for row in session.execute(
            select(Label.id, Label.uuid, Label.name, Label.type, Label.is_metadata)
            .where(Label.project_id == project.id)
            .order_by(Label.created_at, Label.id)
        )
    ]
    values: dict[int, list[_Value]] = defaultdict(list)
    for row in session.execute(
        select(
            LabelValue.id,
            LabelValue.label_id,
            LabelValue.uuid,
            LabelValue.value,
            LabelValue.number,
            LabelValue.color,
        )
        .join(Label, Label.id == LabelValue.label_id)
        .where(Label.project_id == project.id)
        .order_by(LabelValue.created_at, LabelValue.id)
    ):
        values[row.label_id].append(_Value(*row))
    return labels, values


def _typed(label: _Label, value: _Value) -> str | int | float:
    """Metadata as its key's type, so that a DataFrame column of ages holds numbers."""
    if value.number is not None and label.type == "integer":
        return int(value.number)
    if value.number is not None and label.type == "float":
        return value.number
    return value.text


def statistics_chunks(session: Session, project: Project) -> Iterator[bytes]:
    """Query everything now, then yield the JSON array one capture at a time."""
    labels, values = _labels(session, project)
    segment_labels = [label for label in labels if not label.is_metadata]
    metadata_labels = [label for label in labels if label.is_metadata]
    captures = session.execute(
        select(
            Capture.id,
            Capture.uuid,
            Capture.name,
            Capture.number_samples,
            Capture.set_sample_rate,
            Capture.calculated_sample_rate,
            Capture.file_size,
            Capture.task_state,
        )
        .where(Capture.project_id == project.id)
        .order_by(Capture.created_at, Capture.id)
    ).all()
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    # Unknown value ids (see _Fragments.metadata) are counted nowhere, totals included.
    known = {value.id for label_values in values.values() for value in label_values}
    for capture_id, value_id, count in session.execute(
        select(Segment.capture_id, Segment.label_value_id, func.count())
        .join(Capture, Capture.id == Segment.capture_id)
        .where(Capture.project_id == project.id)
        .group_by(Segment.capture_id, Segment.label_value_id)
    ):
        if value_id in known:
            counts[capture_id][value_id] = count
    metadata: dict[int, dict[int, int]] = defaultdict(dict)
    for capture_id, label_id, value_id in session.execute(
        select(
            CaptureMetadataValue.capture_id,
            CaptureMetadataValue.label_id,
            CaptureMetadataValue.label_value_id,
        )
        .join(Capture, Capture.id == CaptureMetadataValue.capture_id)
        .where(Capture.project_id == project.id)
    ):
        metadata[capture_id][label_id] = value_id
    return _serialise(
        captures, _Fragments(segment_labels, metadata_labels, values), counts, metadata
    )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _Fragments:
    """The JSON text that is the same for every capture, encoded once.

    Label names, values and metadata values repeat in every one of thousands of objects:
    encoding them once and joining strings keeps serialising far below the queries' cost.
    Every piece still comes from ``json.dumps``, so the answer is valid JSON whatever the names.
    """

    def __init__(
        self,
        segment_labels: list[_Label],
        metadata_labels: list[_Label],
        values: dict[int, list[_Value]],
    ) -> None:
        # event_labels: per label, its key and, per value, '{"value":"PEN","count":'.
        self.events = [
            (
                _json(label.name) + ":[",
                [
                    (value.id, '{"value":' + _json(value.text) + ',"count":')
                    for value in values[label.id]
                ],
            )
            for label in segment_labels
        ]
        # metadata: per key, its id and '"Subject":'; per value id, its typed JSON.
        self.keys = [(label.id, _json(label.name) + ":") for label in metadata_labels]
        self.metadata_values = {
            value.id: _json(_typed(label, value))
            for label in metadata_labels
            for value in values[label.id]
        }

    def event_labels(self, counts: dict[int, int]) -> str:
        return (
            "{"
            + ",".join(
                key
                + ",".join(f"{prefix}{counts.get(value_id, 0)}}}" for value_id, prefix in pieces)
                + "]"
                for key, pieces in self.events
            )
            + "}"
        )

    def metadata(self, chosen: dict[int, int]) -> str:
        # A value id the values query did not return (created after it, where reads are not
        # one snapshot) reads as null rather than failing the stream half-way.
        return (
            "{"
            + ",".join(
                key
                + (
                    self.metadata_values.get(chosen[label_id], "null")
                    if label_id in chosen
                    else "null"
                )
                for label_id, key in self.keys
            )
            + "}"
        )


def _serialise(
    captures: Any,
    fragments: _Fragments,
    counts: dict[int, dict[int, int]],
    metadata: dict[int, dict[int, int]],
) -> Iterator[bytes]:
    yield b"["
    batch: list[str] = []
    for position, capture in enumerate(captures):
        capture_counts = counts.get(capture.id, {})
        rate = capture.set_sample_rate or capture.calculated_sample_rate
        scalars = _json(
            {
                "capture_name": capture.name,
                "capture_uuid": capture.uuid,
                "total_event_count": sum(capture_counts.values()),
                "number_samples": capture.number_samples,
                "set_sample_rate": capture.set_sample_rate,
                "calculated_sample_rate": capture.calculated_sample_rate,
                "duration_s": capture.number_samples / rate
                if capture.number_samples is not None and rate
                else None,
                "file_size": capture.file_size,
                # A recording is SENT on the wire, as in the capture list (captures/schemas.py).
                "task_state": "SENT" if capture.task_state == RECORDING else capture.task_state,
            }
        )
        batch.append(
            ("," if position else "")
            + scalars[:-1]
            + ',"event_labels":'
            + fragments.event_labels(capture_counts)
            + ',"metadata":'
            + fragments.metadata(metadata.get(capture.id, {}))
            + "}"
        )
        if len(batch) >= BATCH:  # one chunk per capture would cost a thread hop each
            yield "".join(batch).encode()
            batch = []
    yield ("".join(batch) + "]").encode()


def project_summary(session: Session, project: Project) -> dict[str, Any]:
    """Per label value: segments, samples covered (bounds inclusive) and captures; per
    metadata value: captures. Zero rows included, so that a missing class shows."""
    labels, values = _labels(session, project)
    segments: dict[int, tuple[int, int, int]] = {}
    for value_id, count, samples, captures in session.execute(
        select(
            Segment.label_value_id,
            func.count(),
            func.sum(Segment.end - Segment.start + 1),
            func.count(func.distinct(Segment.capture_id)),
        )
        .join(Capture, Capture.id == Segment.capture_id)
        .where(Capture.project_id == project.id)
        .group_by(Segment.label_value_id)
    ):
        segments[value_id] = (count, int(samples or 0), captures)
    tagged: dict[int, int] = dict(
        session.execute(
            select(CaptureMetadataValue.label_value_id, func.count())
            .join(Capture, Capture.id == CaptureMetadataValue.capture_id)
            .where(Capture.project_id == project.id)
            .group_by(CaptureMetadataValue.label_value_id)
        ).all()
    )
    segment_rows = []
    metadata_rows = []
    for label in labels:
        for value in values[label.id]:
            if label.is_metadata:
                metadata_rows.append(
                    {
                        "key": label.name,
                        "key_uuid": label.uuid,
                        "value": value.text,
                        "value_uuid": value.uuid,
                        "captures": tagged.get(value.id, 0),
                    }
                )
            else:
                count, samples, captures = segments.get(value.id, (0, 0, 0))
                segment_rows.append(
                    {
                        "label": label.name,
                        "label_uuid": label.uuid,
                        "value": value.text,
                        "value_uuid": value.uuid,
                        "color": value.color,
                        "segments": count,
                        "samples": samples,
                        "captures": captures,
                    }
                )
    return {"segments": segment_rows, "metadata": metadata_rows}
