"""``project/{p}/statistics/`` (wire-api §7) and ``project/{p}/summary/``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.responses import StreamingResponse

from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute
from capturehub.server.listing import json_response
from capturehub.server.projects.service import get_project
from capturehub.server.statistics import service

router = APIRouter(route_class=GuardedRoute, tags=["statistics"])


@router.get(
    "/project/{project_uuid}/statistics/",
    summary="One object per capture: event counts per label value, metadata, sizes",
)
def statistics(project_uuid: str, caller: CurrentCaller, context: Context) -> Response:
    # The SensiML SDK may send a JSON body ({"events": false}) with this GET; it is not read:
    # counting events costs one grouped query, and every object keeps the same keys.
    with context.db.read() as session:
        project = get_project(session, caller, project_uuid)
        chunks = service.statistics_chunks(session, project)
    return StreamingResponse(chunks, media_type="application/json")


@router.get(
    "/project/{project_uuid}/summary/",
    summary="Per label value: segments, samples covered and captures; per metadata value: captures",
)
def summary(project_uuid: str, caller: CurrentCaller, context: Context) -> Response:
    with context.db.read() as session:
        project = get_project(session, caller, project_uuid)
        return json_response(service.project_summary(session, project))
