"""``project/{p}/versions/...``: dataset versions over HTTP; the rules live in service.py,
reading in reading.py, the comparison in diff.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict
from starlette.responses import StreamingResponse

from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute
from capturehub.server.captures import local_files
from capturehub.server.captures.data import ARROW_STREAM_TYPE, arrow_stream
from capturehub.server.captures.download import original_file_response
from capturehub.server.errors import NotFound, conflict
from capturehub.server.streaming import ThreadStreamingResponse
from capturehub.server.versions import diff, reading, service
from capturehub.storage import BlobNotFound

router = APIRouter(route_class=GuardedRoute, tags=["versions"])


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    description: str | None = ""
    where: dict[str, Any] | None = None


@router.post(
    "/project/{project_uuid}/versions/",
    status_code=201,
    summary="Make a dataset version (a named, immutable snapshot of captures)",
    description='Body `{"name", "description", "where"}`; `where` holds capture-list '
    "filters as the list's query parameters (`name`, `name__contains`, `task_state`, "
    "`format`, `metadata.<key>[__in|__gt|__gte|__lt|__lte|__exists]`); without it the whole "
    'project. See docs/api.md, "Dataset versions".',
    responses=conflict("The project already has a version with this name."),
)
async def create_version(
    project_uuid: str, body: VersionCreate, caller: CurrentCaller, context: Context
) -> dict[str, Any]:
    version = await run_in_threadpool(
        lambda: service.create_version(
            context,
            caller,
            project_uuid,
            name=body.name,
            description=body.description,
            where=body.where,
        )
    )
    return reading.version_json(version)


@router.get("/project/{project_uuid}/versions/", summary="The project's dataset versions")
def list_versions(project_uuid: str, caller: CurrentCaller, context: Context) -> list[Any]:
    with context.db.read() as session:
        return [
            reading.version_json(version)
            for version in service.list_versions(session, caller, project_uuid)
        ]


@router.get(
    "/project/{project_uuid}/versions/{version}/",
    summary="One dataset version (by name or uuid): counts and content hash",
)
def get_version(
    project_uuid: str, version: str, caller: CurrentCaller, context: Context
) -> dict[str, Any]:
    with context.db.read() as session:
        return reading.version_json(service.get_version(session, caller, project_uuid, version))


@router.delete(
    "/project/{project_uuid}/versions/{version}/",
    status_code=204,
    summary="Delete a dataset version (files only it kept are freed by a job)",
)
def delete_version(
    project_uuid: str, version: str, caller: CurrentCaller, context: Context
) -> Response:
    service.delete_version(context, caller, project_uuid, version)
    return Response(status_code=204)


@router.get(
    "/project/{project_uuid}/versions/{old}/diff/{new}/",
    summary="What changed from one version to another",
)
def diff_versions(
    project_uuid: str, old: str, new: str, caller: CurrentCaller, context: Context
) -> dict[str, Any]:
    with context.db.read() as session:
        first = service.get_version(session, caller, project_uuid, old)
        second = service.get_version(session, caller, project_uuid, new)
        return diff.diff(session, first, second)


@router.get(
    "/project/{project_uuid}/versions/{version}/capture/",
    summary="The version's captures as they were, with their metadata and segments",
)
def list_version_captures(
    project_uuid: str, version: str, caller: CurrentCaller, context: Context
) -> Response:
    with context.db.read() as session:
        version_id = service.get_version(session, caller, project_uuid, version).id
    return ThreadStreamingResponse(
        _array(reading.listing(context, version_id)), media_type="application/json"
    )


def _array(batches: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    separator = ""
    first = True
    for items in batches:
        if first:
            yield b"["
            first = False
        if items:
            yield (
                separator
                + ",".join(
                    json.dumps(item, separators=(",", ":"), ensure_ascii=False) for item in items
                )
            ).encode()
            separator = ","
    yield b"]" if not first else b"[]"


@router.get(
    "/project/{project_uuid}/versions/{version}/capture/{capture_uuid}/file/",
    summary="A version's capture's original file, byte for byte (Range supported)",
    response_class=StreamingResponse,
)
def download_version_capture(
    project_uuid: str,
    version: str,
    capture_uuid: str,
    request: Request,
    caller: CurrentCaller,
    context: Context,
) -> Response:
    with context.db.read() as session:
        found = service.get_version(session, caller, project_uuid, version)
        capture = reading.version_capture(session, found.id, capture_uuid)
    try:
        return original_file_response(
            request,
            context.settings,
            context.blobs,
            capture.blob_key,
            capture_format=capture.format,
            name=capture.name,
        )
    except BlobNotFound:
        raise _lost(capture.name) from None


@router.get(
    "/project/{project_uuid}/versions/{version}/capture/{capture_uuid}/data/",
    summary="A version's capture's samples as an Arrow IPC stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {ARROW_STREAM_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
    },
)
def version_capture_data(
    request: Request,
    project_uuid: str,
    version: str,
    capture_uuid: str,
    caller: CurrentCaller,
    context: Context,
    start: Annotated[int | None, Query(ge=0)] = None,
    end: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    with context.db.read() as session:
        found = service.get_version(session, caller, project_uuid, version)
        capture = reading.version_capture(session, found.id, capture_uuid)
    key = reading.columnar_key(context, capture)
    try:
        located = local_files.location_response(request, context.settings, context.blobs, key)
        if located is not None:
            return located
        chunks = arrow_stream(context.blobs, key, start, end)
    except BlobNotFound:
        raise _lost(capture.name) from None
    return StreamingResponse(chunks, media_type=ARROW_STREAM_TYPE)


def _lost(name: str) -> NotFound:
    # Only a damaged store (files removed behind the server's back) gets here: fsck names it.
    return NotFound(
        f"The file of capture {name!r} pinned by this version is missing from the store; "
        "run `capturehub fsck` on the server."
    )
