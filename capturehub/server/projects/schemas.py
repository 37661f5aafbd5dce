"""Request bodies and the project's JSON shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from capturehub.server.formats import timestamp
from capturehub.server.models import Project


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    description: str | None = None
    settings: dict[str, Any] | None = None
    plugin_config: Any = None
    capture_sample_schema: dict[str, Any] | None = None
    lock_schema: bool | None = None


class ProjectUpdate(BaseModel):
    """Every field optional; unknown and read-only fields (echoed back by clients) are ignored."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    description: str | None = None
    settings: dict[str, Any] | None = None
    plugin_config: Any = None
    capture_sample_schema: dict[str, Any] | None = None
    lock_schema: bool | None = None


def project_json(project: Project) -> dict[str, Any]:
    return {
        "uuid": project.uuid,
        "name": project.name,
        "description": project.description,
        "created_at": timestamp(project.created_at),
        "last_modified": timestamp(project.last_modified),
        "capture_sample_schema": project.capture_sample_schema or {},
        "settings": project.settings or {},
        # Always true: the SensiML SDK calls profiling routes capturehub does not have otherwise.
        "optimized": True,
        "plugin_config": project.plugin_config,
        "lock_schema": project.lock_schema,
    }
