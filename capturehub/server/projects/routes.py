"""``project/`` and ``project/{p}/``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute
from capturehub.server.captures.intake import CaptureLifecycle
from capturehub.server.errors import conflict
from capturehub.server.projects import service
from capturehub.server.projects.schemas import ProjectCreate, ProjectUpdate, project_json

router = APIRouter(route_class=GuardedRoute, tags=["projects"])

NAME_TAKEN = conflict("Your team already has a project with this name.")


@router.get("/project/", summary="The team's projects")
def list_projects(caller: CurrentCaller, context: Context) -> list[dict[str, Any]]:
    with context.db.read() as session:  # a read: on SQLite, no write lock
        return [project_json(p) for p in service.list_projects(session, caller)]


@router.post("/project/", status_code=201, summary="Create a project", responses=NAME_TAKEN)
def create_project(body: ProjectCreate, caller: CurrentCaller, context: Context) -> dict[str, Any]:
    with context.db.session() as session:
        return project_json(service.create_project(session, caller, body))


@router.get("/project/{project_uuid}/", summary="One project")
def get_project(project_uuid: str, caller: CurrentCaller, context: Context) -> dict[str, Any]:
    with context.db.read() as session:
        return project_json(service.get_project(session, caller, project_uuid))


@router.patch(
    "/project/{project_uuid}/", summary="Change some of a project's fields", responses=NAME_TAKEN
)
@router.put("/project/{project_uuid}/", summary="Change a project's fields", responses=NAME_TAKEN)
def update_project(
    project_uuid: str, body: ProjectUpdate, caller: CurrentCaller, context: Context
) -> dict[str, Any]:
    with context.db.session() as session:
        project = service.get_project(session, caller, project_uuid)
        return project_json(service.update_project(session, project, body))


@router.delete(
    "/project/{project_uuid}/", status_code=204, summary="Delete a project and its captures"
)
def delete_project(project_uuid: str, caller: CurrentCaller, context: Context) -> Response:
    CaptureLifecycle(context).delete_project(caller, project_uuid)
    return Response(status_code=204)
