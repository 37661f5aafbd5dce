"""Metadata relationships (per capture and project-wide) and the metadata query route."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from sqlalchemy import select

from capturehub.server.auth.deps import Context
from capturehub.server.bodies import GuardedRoute, bulk_body
from capturehub.server.captures.schemas import capture_json
from capturehub.server.errors import BadRequest, conflict
from capturehub.server.listing import Paging, json_response, list_response
from capturehub.server.metadata import service
from capturehub.server.metadata.filters import MetadataFilter, condition, metadata_keys
from capturehub.server.metadata.schemas import row_json
from capturehub.server.metadata.service import RELATIONSHIPS
from capturehub.server.models import Capture, CaptureConfiguration
from capturehub.server.relationships.resolve import items_of, uuids_of
from capturehub.server.relationships.scope import ThisCapture, ThisProject

router = APIRouter(route_class=GuardedRoute, tags=["metadata"])

CAPTURE_LIST = "/v2/project/{project_uuid}/capture/{capture_uuid}/metadata-relationship/"
CAPTURE_ONE = CAPTURE_LIST + "{relationship_uuid}/"
PROJECT_LIST = "/project/{project_uuid}/metadata-relationship/"
JSONBody = Annotated[Any, Body()]

CHANGED_MEANWHILE = conflict(
    "Another request changed the same metadata meanwhile (retry), or the capture already "
    "has a value for the key a relationship is moved to."
)


# The query route comes first: `capture/metadata/...` must not be read as a capture uuid.
@router.get(
    "/project/{project_uuid}/capture/metadata/{rest:path}",
    summary="Captures whose metadata [key] equals [value]: .../capture/metadata/[key]=[value]/",
)
def captures_with_metadata(rest: str, this_project: ThisProject) -> Response:
    # The server has percent-decoded the path once already; decoding again would turn a
    # literal "%41" in a value into "A".
    key, value = parse_query_path(rest)
    item = MetadataFilter(key=key, operator="eq", raw=value)
    with this_project.read() as (session, project):
        try:
            label = metadata_keys(session, project.id, {key})[key]
        except BadRequest:
            # No capture can carry a key the project does not have: that is an empty answer,
            # not an error (the SensiML SDK raises on any 4xx here). The capture list's
            # filters do refuse unknown keys, since there a typo would silently match nothing.
            return json_response([])
        rows = session.execute(
            select(Capture, CaptureConfiguration.uuid)
            .outerjoin(
                CaptureConfiguration, CaptureConfiguration.id == Capture.capture_configuration_id
            )
            .where(Capture.project_id == project.id, condition(item, project.id, label))
            .order_by(Capture.created_at, Capture.id)
        ).all()
        return json_response([capture_json(capture, config) for capture, config in rows])


def parse_query_path(rest: str) -> tuple[str, str]:
    """``[key]=[value]`` (one trailing slash allowed): the key up to the first ``]=[``, the
    value from there to the final ``]``; either may contain ``/`` or ``]``."""
    text = rest[:-1] if rest.endswith("/") else rest
    separator = text.find("]=[")
    if not text.startswith("[") or not text.endswith("]") or separator < 0:
        raise BadRequest(
            f"Cannot read {rest!r} as a metadata query; write capture/metadata/[key]=[value]/ "
            "(brackets included, percent-encoded or not)."
        )
    return text[1:separator], text[separator + 3 : -1]


@router.get(CAPTURE_LIST, summary="The capture's metadata")
def list_capture_metadata(
    request: Request, page: Paging, this_capture: ThisCapture, context: Context
) -> Response:
    with this_capture.read() as (_, project, capture):
        query = RELATIONSHIPS.listed(project, capture)
    return list_response(request, context, query, row_json, page)


@router.post(
    CAPTURE_LIST,
    status_code=201,
    summary="Set metadata values (an object or a list); answers a list, always",
    responses=CHANGED_MEANWHILE,
)
@router.put(
    CAPTURE_LIST,
    summary="Set metadata values (same as POST; answers 200)",
    responses=CHANGED_MEANWHILE,
)
@bulk_body
def set_capture_metadata(request: Request, body: JSONBody, this_capture: ThisCapture) -> Response:
    items, single = items_of(body)
    with this_capture.write() as (session, project, capture):
        answer = service.set_metadata(session, project, items, single=single, capture=capture)
    return json_response(answer, 201 if request.method == "POST" else 200)


@router.delete(CAPTURE_LIST, status_code=204, summary="Delete several of the capture's metadata")
@bulk_body
def delete_capture_metadata(body: JSONBody, this_capture: ThisCapture) -> Response:
    with this_capture.write() as (session, project, capture):
        RELATIONSHIPS.delete(session, project, uuids_of(body), capture=capture)
    return Response(status_code=204)


@router.get(CAPTURE_ONE, summary="One metadata relationship")
def get_capture_metadata(relationship_uuid: str, this_capture: ThisCapture) -> Response:
    with this_capture.read() as (session, project, capture):
        return json_response(RELATIONSHIPS.get(session, project, relationship_uuid, capture))


@router.put(
    CAPTURE_ONE,
    summary="Change a metadata relationship's value (or key)",
    responses=CHANGED_MEANWHILE,
)
@router.patch(
    CAPTURE_ONE,
    summary="Change a metadata relationship's value (or key)",
    responses=CHANGED_MEANWHILE,
)
def update_capture_metadata(
    relationship_uuid: str, body: JSONBody, this_capture: ThisCapture
) -> Response:
    with this_capture.write() as (session, project, capture):
        return json_response(
            service.update_relationship(session, project, capture, relationship_uuid, body)
        )


@router.delete(CAPTURE_ONE, status_code=204, summary="Remove a metadata value from the capture")
def delete_capture_metadata_one(relationship_uuid: str, this_capture: ThisCapture) -> Response:
    with this_capture.write() as (session, project, capture):
        RELATIONSHIPS.delete(session, project, [relationship_uuid], capture=capture)
    return Response(status_code=204)


@router.get(PROJECT_LIST, summary="Every metadata relationship of the project")
def list_project_metadata(
    request: Request, page: Paging, this_project: ThisProject, context: Context
) -> Response:
    with this_project.read() as (_, project):
        query = RELATIONSHIPS.listed(project)
    return list_response(request, context, query, row_json, page)


@router.post(
    PROJECT_LIST,
    status_code=201,
    summary="Set metadata on many captures: a list of {capture, label, label_value}",
    responses=CHANGED_MEANWHILE,
)
@router.put(
    PROJECT_LIST,
    summary="Set metadata on many captures (same as POST; answers 200)",
    responses=CHANGED_MEANWHILE,
)
@bulk_body
def set_project_metadata(request: Request, body: JSONBody, this_project: ThisProject) -> Response:
    items, single = items_of(body)
    with this_project.write() as (session, project):
        answer = service.set_metadata(session, project, items, single=single)
    return json_response(answer, 201 if request.method == "POST" else 200)


@router.delete(PROJECT_LIST, status_code=204, summary="Delete many metadata relationships")
@bulk_body
def delete_project_metadata(body: JSONBody, this_project: ThisProject) -> Response:
    with this_project.write() as (session, project):
        RELATIONSHIPS.delete(session, project, uuids_of(body))
    return Response(status_code=204)
