"""Set-up the SDK has no methods for (the seed's Captures only reads labels and metadata):
labels, metadata and segments are written over plain HTTP, per wire-api §6."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from capturehub import Capture


def _definition(api: httpx.Client, project_uuid: str, kind: str, name: str) -> dict[str, Any]:
    listed = api.get(f"project/{project_uuid}/{kind}/")
    assert listed.status_code == 200, listed.text
    for item in listed.json():
        if item["name"] == name:
            return dict(item)
    created = api.post(f"project/{project_uuid}/{kind}/", json={"name": name, "type": "string"})
    assert created.status_code == 201, created.text
    return dict(created.json())


def _value_uuid(
    api: httpx.Client, project_uuid: str, kind: str, definition: dict[str, Any], value: str
) -> str:
    for existing in definition.get("label_values") or []:
        if existing["value"] == value:
            return str(existing["uuid"])
    created = api.post(
        f"project/{project_uuid}/{kind}/{definition['uuid']}/labelvalue/", json={"value": value}
    )
    assert created.status_code == 201, created.text
    definition.setdefault("label_values", []).append(created.json())
    return str(created.json()["uuid"])


def set_metadata(api: httpx.Client, capture: Capture, values: dict[str, str]) -> None:
    """Give a capture metadata values (``{"Subject": "S07"}``)."""
    project_uuid = capture._bound()[1].uuid
    for key, value in values.items():
        definition = _definition(api, project_uuid, "metadata", key)
        value_uuid = _value_uuid(api, project_uuid, "metadata", definition, value)
        answer = api.post(
            f"v2/project/{project_uuid}/capture/{capture.uuid}/metadata-relationship/",
            json={"label": definition["uuid"], "label_value": value_uuid},
        )
        assert answer.status_code == 201, answer.text


def add_segments(api: httpx.Client, capture: Capture, segments: Iterable[dict[str, Any]]) -> None:
    """Label segments of a processed capture: ``{"label", "value", "start", "end"}`` each."""
    project_uuid = capture._bound()[1].uuid
    payload = []
    for segment in segments:
        definition = _definition(api, project_uuid, "label", segment["label"])
        value_uuid = _value_uuid(api, project_uuid, "label", definition, segment["value"])
        payload.append(
            {
                "label": definition["uuid"],
                "label_value": value_uuid,
                "capture_sample_sequence_start": segment["start"],
                "capture_sample_sequence_end": segment["end"],
            }
        )
    answer = api.post(
        f"project/{project_uuid}/capture/{capture.uuid}/label-relationship/", json=payload
    )
    assert answer.status_code == 201, answer.text
