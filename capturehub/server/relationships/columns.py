"""The columns every relationship row's JSON shows, whatever its table: its uuid, its capture,
its label and value (uuids and names) and its timestamps, joined (and read back) once here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, select

from capturehub.server.formats import timestamp
from capturehub.server.models import Capture, Label, LabelValue


def select_labelled(model: Any, project_id: int, *columns: Any) -> Select[Any]:
    """A project's rows of ``model`` (a table with ``uuid``, ``capture_id``, ``label_id``,
    ``label_value_id`` and timestamps) with what their JSON shows; ``columns`` are the
    table's own, placed between the value and the timestamps. Unordered: each kind orders."""
    return (
        select(
            model.uuid,
            Capture.uuid.label("capture_uuid"),
            Label.uuid.label("label_uuid"),
            Label.name.label("label_name"),
            LabelValue.uuid.label("value_uuid"),
            LabelValue.value,
            *columns,
            model.created_at,
            model.last_modified,
        )
        .join(Capture, Capture.id == model.capture_id)
        .join(Label, Label.id == model.label_id)
        .join(LabelValue, LabelValue.id == model.label_value_id)
        .where(Capture.project_id == project_id)
    )


def labelled_fields(row: Row[Any]) -> dict[str, Any]:
    """The shared part of a row of :func:`select_labelled`, as the JSON builders' keywords."""
    return {
        "uuid": row.uuid,
        "capture_uuid": row.capture_uuid,
        "label_uuid": row.label_uuid,
        "label_name": row.label_name,
        "value_uuid": row.value_uuid,
        "value": row.value,
        "created_at": timestamp(row.created_at),
        "last_modified": timestamp(row.last_modified),
    }
