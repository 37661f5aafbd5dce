"""The metadata relationship's JSON shape (wire-api §6)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select

from capturehub.server.models import CaptureMetadataValue, Label
from capturehub.server.relationships.columns import labelled_fields, select_labelled


def relationship_json(
    *,
    uuid: str,
    capture_uuid: str,
    label_uuid: str,
    label_name: str,
    value_uuid: str,
    value: str,
    created_at: str | None,
    last_modified: str | None,
) -> dict[str, Any]:
    """``label`` and ``label_value`` are uuids (what the SensiML SDK reads); ``label_name`` and
    ``value`` spare a reader the lookups. Timestamps come formatted (formats.timestamp)."""
    return {
        "uuid": uuid,
        "capture": capture_uuid,
        "label": label_uuid,
        "label_value": value_uuid,
        "label_name": label_name,
        "value": value,
        "created_at": created_at,
        "last_modified": last_modified,
    }


def select_relationships(project_id: int) -> Select[*tuple[Any, ...]]:
    """Every metadata relationship of a project, with the uuids and names its JSON shows."""
    return select_labelled(CaptureMetadataValue, project_id).order_by(
        CaptureMetadataValue.capture_id, Label.name, CaptureMetadataValue.id
    )


def row_json(row: Row[Any]) -> dict[str, Any]:
    return relationship_json(**labelled_fields(row))
