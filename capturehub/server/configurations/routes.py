"""``project/{p}/captureconfiguration/`` and ``.../{uuid}/``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute
from capturehub.server.configurations import service
from capturehub.server.configurations.schemas import (
    ConfigurationCreate,
    ConfigurationUpdate,
    configuration_json,
)
from capturehub.server.errors import conflict
from capturehub.server.projects.service import get_project

router = APIRouter(route_class=GuardedRoute, tags=["capture configurations"])

UUID_TAKEN = conflict("A capture configuration with this uuid already exists.")

LIST = "/project/{project_uuid}/captureconfiguration/"
ONE = LIST + "{configuration_uuid}/"


@router.get(LIST, summary="The project's capture configurations")
def list_configurations(project_uuid: str, caller: CurrentCaller, context: Context) -> Any:
    with context.db.read() as session:
        project = get_project(session, caller, project_uuid)
        return [configuration_json(c) for c in service.list_configurations(session, project)]


@router.post(
    LIST,
    status_code=201,
    summary="Create a capture configuration (uuid optional)",
    responses=UUID_TAKEN,
)
def create_configuration(
    project_uuid: str, body: ConfigurationCreate, caller: CurrentCaller, context: Context
) -> Any:
    with context.db.session() as session:
        project = get_project(session, caller, project_uuid)
        return configuration_json(service.create_configuration(session, project, body))


@router.get(ONE, summary="One capture configuration")
def get_configuration(
    project_uuid: str, configuration_uuid: str, caller: CurrentCaller, context: Context
) -> Any:
    with context.db.read() as session:
        project = get_project(session, caller, project_uuid)
        return configuration_json(service.get_configuration(session, project, configuration_uuid))


@router.put(ONE, summary="Change a capture configuration")
@router.patch(ONE, summary="Change some fields of a capture configuration")
def update_configuration(
    project_uuid: str,
    configuration_uuid: str,
    body: ConfigurationUpdate,
    caller: CurrentCaller,
    context: Context,
) -> Any:
    with context.db.session() as session:
        project = get_project(session, caller, project_uuid)
        configuration = service.get_configuration(session, project, configuration_uuid)
        return configuration_json(service.update_configuration(session, configuration, body))


@router.delete(ONE, status_code=204, summary="Delete a capture configuration")
def delete_configuration(
    project_uuid: str, configuration_uuid: str, caller: CurrentCaller, context: Context
) -> Response:
    with context.db.session() as session:
        project = get_project(session, caller, project_uuid)
        service.delete_configuration(
            session, service.get_configuration(session, project, configuration_uuid)
        )
    return Response(status_code=204)
