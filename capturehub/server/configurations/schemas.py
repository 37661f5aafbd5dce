"""The capture configuration's request bodies and JSON shape (wire-api §6)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from capturehub.server.formats import timestamp
from capturehub.server.models import CaptureConfiguration


class ConfigurationCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    configuration: dict[str, Any] | None = None
    # The client may choose the uuid (the SensiML SDK does, to refer to it before the answer).
    uuid: str | None = None


class ConfigurationUpdate(BaseModel):
    """Every field optional; read-only fields echoed back (uuid, created_at...) are ignored."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    configuration: dict[str, Any] | None = None


def configuration_json(configuration: CaptureConfiguration) -> dict[str, Any]:
    return {
        "uuid": configuration.uuid,
        "name": configuration.name,
        "configuration": configuration.configuration or {},
        "created_at": timestamp(configuration.created_at),
        "last_modified": timestamp(configuration.last_modified),
    }
