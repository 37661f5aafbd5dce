"""Request bodies and the JSON shapes of labels, metadata keys and their values (wire-api §6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from capturehub.server.formats import timestamp
from capturehub.server.models import Label, LabelValue


@dataclass(frozen=True)
class Kind:
    """``label`` (segment labels) or ``metadata`` (capture-level keys): one shape, two URLs."""

    path: str
    is_metadata: bool
    noun: str  # how messages name one of them


LABEL = Kind(path="label", is_metadata=False, noun="label")
METADATA = Kind(path="metadata", is_metadata=True, noun="metadata key")
KINDS = (LABEL, METADATA)


def kind_of(label: Label) -> Kind:
    return METADATA if label.is_metadata else LABEL


class LabelCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    type: str = "string"
    is_dropdown: bool = True
    values: list[str | int | float] | None = None


class LabelUpdate(BaseModel):
    """Every field optional; read-only fields a client echoes back (uuid, label_values...) are
    ignored. ``values`` adds the values not yet present; removing one is a DELETE."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    type: str | None = None
    is_dropdown: bool | None = None
    values: list[str | int | float] | None = None


class ValueCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    value: str | int | float
    color: str | None = None


class ValueUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    value: str | int | float | None = None
    color: str | None = None


def value_json(value: LabelValue) -> dict[str, Any]:
    return {
        "uuid": value.uuid,
        "value": value.value,
        "color": value.color,
        "created_at": timestamp(value.created_at),
        "last_modified": timestamp(value.last_modified),
    }


def label_json(label: Label, values: list[LabelValue]) -> dict[str, Any]:
    return {
        "uuid": label.uuid,
        "name": label.name,
        "type": label.type,
        "is_dropdown": label.is_dropdown,
        "metadata": label.is_metadata,
        "created_at": timestamp(label.created_at),
        "last_modified": timestamp(label.last_modified),
        "label_values": [value_json(value) for value in values],
    }
