"""Segment routes: per capture, project-wide, per segmenter; and the segmenters themselves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from capturehub.server.auth.deps import Context
from capturehub.server.bodies import GuardedRoute, bulk_body
from capturehub.server.errors import BadRequest, conflict
from capturehub.server.listing import Paging, json_response, list_response
from capturehub.server.models import Segment
from capturehub.server.relationships.resolve import items_of, uuids_of
from capturehub.server.relationships.scope import ThisCapture, ThisProject
from capturehub.server.segments import service
from capturehub.server.segments.schemas import SegmenterCreate, row_json, segmenter_json
from capturehub.server.segments.service import SEGMENTS

router = APIRouter(route_class=GuardedRoute, tags=["segments"])

CAPTURE_LIST = "/project/{project_uuid}/capture/{capture_uuid}/label-relationship/"
CAPTURE_ONE = CAPTURE_LIST + "{segment_uuid}/"
PROJECT_LIST = "/project/{project_uuid}/label-relationship/"
SEGMENTERS = "/project/{project_uuid}/segmenter/"
SEGMENTER_LIST = "/v2/project/{project_uuid}/segmenter/{segmenter_id}/label-relationship/"
JSONBody = Annotated[Any, Body()]

CHANGED_MEANWHILE = conflict(
    "A capture is still being processed (retry when its task_state is SUCCESS), or "
    "another request changed the same segments meanwhile (retry)."
)


@router.get(CAPTURE_LIST, summary="The capture's segments, in sample order")
def list_capture_segments(
    request: Request, page: Paging, this_capture: ThisCapture, context: Context
) -> Response:
    with this_capture.read() as (_, project, capture):
        query = SEGMENTS.listed(project, capture)
    return list_response(request, context, query, row_json, page)


@router.post(
    CAPTURE_LIST,
    status_code=201,
    summary="Add segments (an object or a list); answers a list",
    responses=CHANGED_MEANWHILE,
)
@bulk_body
def create_capture_segments(body: JSONBody, this_capture: ThisCapture) -> Response:
    items, single = items_of(body)
    with this_capture.write() as (session, project, capture):
        answer = service.create_segments(session, project, items, single=single, capture=capture)
    return json_response(answer, 201)


@router.put(
    CAPTURE_LIST,
    summary="Change several segments (each item with its uuid)",
    responses=CHANGED_MEANWHILE,
)
@bulk_body
def update_capture_segments(body: JSONBody, this_capture: ThisCapture) -> Response:
    items, single = items_of(body)
    with this_capture.write() as (session, project, capture):
        answer = service.update_segments(session, project, items, single=single, capture=capture)
    return json_response(answer)


@router.delete(CAPTURE_LIST, status_code=204, summary="Delete several segments (a list of uuids)")
@bulk_body
def delete_capture_segments(body: JSONBody, this_capture: ThisCapture) -> Response:
    with this_capture.write() as (session, project, capture):
        SEGMENTS.delete(session, project, uuids_of(body), capture=capture)
    return Response(status_code=204)


@router.get(CAPTURE_ONE, summary="One segment")
def get_capture_segment(segment_uuid: str, this_capture: ThisCapture) -> Response:
    with this_capture.read() as (session, project, capture):
        return json_response(SEGMENTS.get(session, project, segment_uuid, capture))


@router.put(CAPTURE_ONE, summary="Change a segment", responses=CHANGED_MEANWHILE)
@router.patch(CAPTURE_ONE, summary="Change some fields of a segment", responses=CHANGED_MEANWHILE)
def update_capture_segment(
    segment_uuid: str, body: JSONBody, this_capture: ThisCapture
) -> Response:
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.", data={"body": ["expected an object"]})
    with this_capture.write() as (session, project, capture):
        (answer,) = service.update_segments(
            session, project, [{**body, "uuid": segment_uuid}], single=True, capture=capture
        )
    return json_response(answer)


@router.delete(CAPTURE_ONE, status_code=204, summary="Delete a segment")
def delete_capture_segment(segment_uuid: str, this_capture: ThisCapture) -> Response:
    with this_capture.write() as (session, project, capture):
        SEGMENTS.delete(session, project, [segment_uuid], capture=capture)
    return Response(status_code=204)


@router.get(PROJECT_LIST, summary="Every segment of the project")
def list_project_segments(
    request: Request, page: Paging, this_project: ThisProject, context: Context
) -> Response:
    with this_project.read() as (_, project):
        query = SEGMENTS.listed(project)
    return list_response(request, context, query, row_json, page)


@router.post(
    PROJECT_LIST,
    status_code=201,
    summary="Add segments to many captures (items name a capture)",
    responses=CHANGED_MEANWHILE,
)
@bulk_body
def create_project_segments(body: JSONBody, this_project: ThisProject) -> Response:
    items, single = items_of(body)
    with this_project.write() as (session, project):
        answer = service.create_segments(session, project, items, single=single)
    return json_response(answer, 201)


@router.put(
    PROJECT_LIST,
    summary="Change many segments (each item with its uuid)",
    responses=CHANGED_MEANWHILE,
)
@bulk_body
def update_project_segments(body: JSONBody, this_project: ThisProject) -> Response:
    items, single = items_of(body)
    with this_project.write() as (session, project):
        answer = service.update_segments(session, project, items, single=single)
    return json_response(answer)


@router.delete(PROJECT_LIST, status_code=204, summary="Delete many segments (a list of uuids)")
@bulk_body
def delete_project_segments(body: JSONBody, this_project: ThisProject) -> Response:
    with this_project.write() as (session, project):
        SEGMENTS.delete(session, project, uuids_of(body))
    return Response(status_code=204)


@router.get(SEGMENTER_LIST, summary="The segments a segmenter made")
def list_segmenter_segments(
    segmenter_id: int,
    request: Request,
    page: Paging,
    this_project: ThisProject,
    context: Context,
) -> Response:
    with this_project.read() as (session, project):
        segmenter = service.get_segmenter(session, project, segmenter_id)
        query = SEGMENTS.listed(project).where(Segment.segmenter_id == segmenter.id)
    return list_response(request, context, query, row_json, page)


@router.post(
    SEGMENTER_LIST,
    status_code=201,
    summary="Add a segmenter's segments to many captures in one transaction",
    responses=CHANGED_MEANWHILE,
)
@bulk_body
def create_segmenter_segments(
    segmenter_id: int, body: JSONBody, this_project: ThisProject
) -> Response:
    items, single = items_of(body)
    with this_project.write() as (session, project):
        segmenter = service.get_segmenter(session, project, segmenter_id)
        answer = service.create_segments(
            session, project, items, single=single, segmenter_id=segmenter.id
        )
    return json_response(answer, 201)


@router.get(SEGMENTERS, summary="The project's segmenters")
def list_segmenters(this_project: ThisProject) -> Response:
    with this_project.read() as (session, project):
        return json_response([segmenter_json(s) for s in service.list_segmenters(session, project)])


@router.post(SEGMENTERS, status_code=201, summary="Create a segmenter")
def create_segmenter(body: SegmenterCreate, this_project: ThisProject) -> Response:
    with this_project.write() as (session, project):
        return json_response(segmenter_json(service.create_segmenter(session, project, body)), 201)


@router.get(SEGMENTERS + "{segmenter_id}/", summary="One segmenter")
def get_segmenter(segmenter_id: int, this_project: ThisProject) -> Response:
    with this_project.read() as (session, project):
        return json_response(segmenter_json(service.get_segmenter(session, project, segmenter_id)))


@router.delete(SEGMENTERS + "{segmenter_id}/", status_code=204, summary="Delete a segmenter")
def delete_segmenter(segmenter_id: int, this_project: ThisProject) -> Response:
    with this_project.write() as (session, project):
        service.delete_segmenter(session, service.get_segmenter(session, project, segmenter_id))
    return Response(status_code=204)
