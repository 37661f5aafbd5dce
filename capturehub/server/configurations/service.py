"""Capture configuration rules: project-scoped, uuid chosen by the client or the server.

Names need not be unique (the uuid identifies a configuration; the SensiML SDK refers to them by
uuid). A client-chosen uuid must be a canonical uuid not used by another configuration of the
same team; other teams' uuids are invisible (two teams may pick the same one).
Deleting a configuration leaves its captures without one (``capture_configuration_uuid`` null).
"""

from __future__ import annotations

import uuid as uuid_module

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capturehub.server.configurations.schemas import ConfigurationCreate, ConfigurationUpdate
from capturehub.server.errors import BadRequest, Conflict, NotFound
from capturehub.server.models import CaptureConfiguration, Project, new_uuid, utcnow
from capturehub.server.names import validate_name


def get_configuration(
    session: Session, project: Project, configuration_uuid: str
) -> CaptureConfiguration:
    configuration = session.scalar(
        select(CaptureConfiguration).where(
            CaptureConfiguration.uuid == configuration_uuid,
            CaptureConfiguration.project_id == project.id,
        )
    )
    if configuration is None:
        raise NotFound(f"No capture configuration {configuration_uuid} in this project.")
    return configuration


def list_configurations(session: Session, project: Project) -> list[CaptureConfiguration]:
    return list(
        session.scalars(
            select(CaptureConfiguration)
            .where(CaptureConfiguration.project_id == project.id)
            .order_by(CaptureConfiguration.created_at, CaptureConfiguration.id)
        )
    )


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid_module.UUID(value))
    except ValueError:
        message = f"uuid must be a UUID such as {new_uuid()}, not {value!r}."
        raise BadRequest(message, data={"uuid": [message]}) from None


def _taken(value: str) -> Conflict:
    message = f"A capture configuration with uuid {value} already exists."
    return Conflict(message, data={"uuid": [message]})


def create_configuration(
    session: Session, project: Project, body: ConfigurationCreate
) -> CaptureConfiguration:
    chosen = _canonical_uuid(body.uuid) if body.uuid else new_uuid()
    taken = select(CaptureConfiguration.id).where(
        CaptureConfiguration.team_id == project.team_id, CaptureConfiguration.uuid == chosen
    )
    if session.scalar(taken):
        raise _taken(chosen)
    configuration = CaptureConfiguration(
        uuid=chosen,
        team_id=project.team_id,
        project_id=project.id,
        name=validate_name(body.name, what="capture configuration"),
        configuration=body.configuration or {},
    )
    session.add(configuration)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _taken(chosen) from exc
    return configuration


def update_configuration(
    session: Session, configuration: CaptureConfiguration, body: ConfigurationUpdate
) -> CaptureConfiguration:
    if body.name is not None:
        configuration.name = validate_name(body.name, what="capture configuration")
    if body.configuration is not None:
        configuration.configuration = body.configuration
    configuration.last_modified = utcnow()
    session.flush()
    return configuration


def delete_configuration(session: Session, configuration: CaptureConfiguration) -> None:
    session.execute(delete(CaptureConfiguration).where(CaptureConfiguration.id == configuration.id))
