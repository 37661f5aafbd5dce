"""``project/{p}/capture/...``: HTTP in and out. Receiving, replacing and deleting files go
through the lifecycle (intake.py); the rules live in service.py."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from starlette.responses import StreamingResponse

from capturehub.server.auth.deps import (
    Context,
    Credentials,
    CurrentCaller,
    caller_and_project,
)
from capturehub.server.bodies import GuardedRoute, bulk_body
from capturehub.server.captures import local_files, service
from capturehub.server.captures.data import ARROW_STREAM_TYPE, table_messages
from capturehub.server.captures.download import original_file_response
from capturehub.server.captures.intake import CaptureLifecycle, IncomingFile, UploadDetails
from capturehub.server.captures.multipart import UploadForm, read_upload
from capturehub.server.captures.paging import CapturePaging, page_body
from capturehub.server.captures.query import (
    CaptureList,
    capture_row,
    metadata_filters_description,
)
from capturehub.server.captures.schemas import (
    capture_json,
    format_of,
    parse_bool,
    parse_optional_text,
    parse_rate,
)
from capturehub.server.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, conflict
from capturehub.server.labels.versions import CHUNK
from capturehub.server.listing import json_response, stream_array
from capturehub.server.models import RECORDING, Capture
from capturehub.server.projects.service import get_project
from capturehub.storage import BlobNotFound

router = APIRouter(route_class=GuardedRoute, tags=["captures"])

NAME_TAKEN = conflict("The project already has a capture with this name.")

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "name"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string"},
                        "asynchronous": {"type": "string", "enum": ["True", "False"]},
                        "set_sample_rate": {"type": "number"},
                        "calculated_sample_rate": {"type": "number"},
                        "capture_configuration_uuid": {"type": "string"},
                    },
                }
            }
        },
    }
}


@router.get(
    "/project/{project_uuid}/capture/",
    summary="List captures (filters, paging)",
    description=metadata_filters_description(),
)
def list_captures(
    project_uuid: str,
    request: Request,
    query: CaptureList,
    page: CapturePaging,
    credentials: Credentials,
    context: Context,
) -> Any:
    # An offset page reads its statements in one snapshot: a page read from the end of the
    # list is placed by the count, which must come from the same view as the page (an upload
    # in between would shift it by one). A cursor page is placed by its cursor, and the
    # whole list's route only authenticates and probes: their statements need no common
    # snapshot, and without a transaction they spare its BEGIN and COMMIT round trips.
    snapshot = page is not None and not page.by_cursor
    with context.db.read(snapshot=snapshot) as session:
        # Authenticated in the route's own session (see auth/deps.py), the caller and the
        # project in one statement: the hot path.
        _caller, project = caller_and_project(session, credentials, project_uuid)
        if page is not None:
            found = query.page_rows(
                session, project_id=project.id, capture_count=project.capture_count, page=page
            )
            body = page_body(
                request,
                page,
                count=found.count,
                results=[_capture_json(row) for row in found.rows],
                more=found.more,
                next_cursor=found.next_cursor,
            )
            return json_response(body)
        rows_query = query.rows(project.id, session)
        # A short list (a capture by name, a small project) is answered from one statement
        # here. Streaming it would take a second connection, a server-side cursor (DECLARE,
        # FETCH, CLOSE) and a thread hop per chunk: more than the rows themselves cost. The
        # bytes are the same as streamed.
        short = session.connection().execute(rows_query.limit(SHORT_LIST + 1)).all()
        if len(short) <= SHORT_LIST:
            return json_response([_capture_json(row) for row in short])
    return stream_array(context, rows_query, _capture_json)


# The longest whole list answered without streaming. A longer list reads these rows twice
# (here, then streamed from the start, in its own snapshot): a few milliseconds against the
# seconds a list of many thousands takes.
SHORT_LIST = 100


def _capture_json(row: Any) -> dict[str, Any]:
    values = row._mapping
    return capture_json(values, values["configuration_uuid"])


@router.post(
    "/project/{project_uuid}/capture/",
    status_code=201,
    summary="Upload a capture (multipart: file, name, asynchronous, ...)",
    openapi_extra=UPLOAD_BODY,
    responses=conflict("A capture with this name exists."),
)
async def upload_capture(
    project_uuid: str, request: Request, caller: CurrentCaller, context: Context
) -> Any:
    lifecycle = CaptureLifecycle(context)
    incoming = await run_in_threadpool(lifecycle.incoming_upload, caller, project_uuid)
    _refuse_declared_oversize(request, context.settings.max_upload_bytes)
    with incoming:  # leaving with an error keeps nothing of the file
        form = await _read_form(request, context, incoming)
        stored = form.file
        if stored is None:
            raise BadRequest(
                "The upload has no `file` part; send the recording as the multipart part `file`.",
                data={"file": ["required"]},
            )
        name = form.fields.get("name")
        if name is None:
            raise BadRequest("The form field `name` is required.", data={"name": ["required"]})
        if stored.size == 0:
            raise BadRequest("The file is empty.", data={"file": ["the file is empty"]})
        details = UploadDetails(
            name=name,
            format=format_of(stored.filename, name),
            set_sample_rate=parse_rate(form.fields.get("set_sample_rate"), field="set_sample_rate"),
            calculated_sample_rate=parse_rate(
                form.fields.get("calculated_sample_rate"), field="calculated_sample_rate"
            ),
            configuration_uuid=parse_optional_text(form.fields.get("capture_configuration_uuid")),
            asynchronous=parse_bool(
                form.fields.get("asynchronous"), field="asynchronous", default=True
            ),
        )
        capture, configuration = await run_in_threadpool(
            partial(
                lifecycle.receive,
                caller,
                project_uuid,
                incoming,
                details=details,
                file_size=stored.size,
                sha256=stored.sha256,
            )
        )
    return capture_json(capture, configuration)


def _refuse_declared_oversize(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 1024 * 1024:
        raise PayloadTooLarge(
            f"The upload ({declared} bytes) is larger than this server's limit of {limit} bytes "
            "(setting CAPTUREHUB_MAX_UPLOAD_BYTES)."
        )


async def _read_form(request: Request, context: Any, incoming: IncomingFile) -> UploadForm:
    """The multipart form, its `file` part streamed into ``incoming``."""
    return await read_upload(request, incoming.open_writer, context.settings.max_upload_bytes)


@router.get("/project/{project_uuid}/capture/{capture_uuid}/", summary="One capture")
def get_capture(
    project_uuid: str, capture_uuid: str, credentials: Credentials, context: Context
) -> dict[str, Any]:
    # Authenticated in the route's own session, as the list (see auth/deps.py): the caller
    # and the project in one statement, the capture and its configuration's uuid in another
    # (a Core row, as the list reads).
    with context.db.read(snapshot=False) as session:
        _caller, project = caller_and_project(session, credentials, project_uuid)
        row = capture_row(session, project_id=project.id, capture_uuid=capture_uuid)
        if row is None:
            raise NotFound(f"Capture {capture_uuid} not found in project {project_uuid}.")
        return _capture_json(row)


UPDATE_BODY = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "set_sample_rate": {"type": ["number", "null"]},
                        "calculated_sample_rate": {"type": ["number", "null"]},
                        "capture_configuration_uuid": {"type": ["string", "null"]},
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string"},
                        "set_sample_rate": {"type": "string"},
                        "calculated_sample_rate": {"type": "string"},
                        "capture_configuration_uuid": {"type": "string"},
                    },
                }
            },
        }
    }
}


@router.patch(
    "/project/{project_uuid}/capture/{capture_uuid}/",
    summary="Change a capture (JSON or multipart; a `file` part replaces the data)",
    openapi_extra=UPDATE_BODY,
    responses=NAME_TAKEN,
)
@router.put(
    "/project/{project_uuid}/capture/{capture_uuid}/",
    summary="Change a capture (JSON or multipart; a `file` part replaces the data)",
    openapi_extra=UPDATE_BODY,
    responses=NAME_TAKEN,
)
async def update_capture(
    project_uuid: str,
    capture_uuid: str,
    request: Request,
    caller: CurrentCaller,
    context: Context,
) -> dict[str, Any]:
    lifecycle = CaptureLifecycle(context)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        changes = _changes_from(await _json_object(request))
        capture, configuration = await run_in_threadpool(
            lifecycle.change, caller, project_uuid, capture_uuid, changes
        )
        return capture_json(capture, configuration)
    # The capture is looked up before anything is received: an unknown or malformed id is a
    # 404, and its keys are made from the stored capture, never from the URL.
    incoming = await run_in_threadpool(
        lifecycle.incoming_replacement, caller, project_uuid, capture_uuid
    )
    with incoming:  # leaving with an error keeps nothing of the file
        form = await _read_form(request, context, incoming)
        changes = _changes_from(dict(form.fields))
        if form.file is None:
            # Fields only: nothing was stored.
            capture, configuration = await run_in_threadpool(
                lifecycle.change, caller, project_uuid, capture_uuid, changes
            )
            return capture_json(capture, configuration)
        if form.file.size == 0:
            raise BadRequest("The file is empty.", data={"file": ["the file is empty"]})
        capture, configuration = await run_in_threadpool(
            partial(
                lifecycle.change,
                caller,
                project_uuid,
                capture_uuid,
                changes,
                incoming,
                new_format=format_of(form.file.filename, changes.name),
                file_size=form.file.size,
                sha256=form.file.sha256,
            )
        )
    return capture_json(capture, configuration)


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest(
            "The body is not valid JSON; send a JSON object or a multipart form."
        ) from None
    if not isinstance(body, dict):
        raise BadRequest("Send the changes as a JSON object.")
    return body


def _changes_from(fields: dict[str, Any]) -> service.CaptureChanges:
    """Writable fields only; the read-only ones a client echoes back are ignored."""
    changes = service.CaptureChanges()
    present: set[str] = set()
    if "name" in fields and fields["name"] is not None:
        # Taken as sent: a blank name is refused by the rename, not silently ignored.
        changes.name = str(fields["name"])
    for rate_field in ("set_sample_rate", "calculated_sample_rate"):
        if rate_field in fields:
            setattr(changes, rate_field, parse_rate(fields[rate_field], field=rate_field))
            present.add(rate_field)
    if "capture_configuration_uuid" in fields:
        changes.configuration_uuid = parse_optional_text(fields["capture_configuration_uuid"])
        present.add("capture_configuration_uuid")
    changes.fields = frozenset(present)
    return changes


@router.delete(
    "/project/{project_uuid}/capture/{capture_uuid}/", status_code=204, summary="Delete a capture"
)
def delete_capture(
    project_uuid: str, capture_uuid: str, caller: CurrentCaller, context: Context
) -> Response:
    CaptureLifecycle(context).delete(caller, project_uuid, capture_uuid)
    return Response(status_code=204)


@router.get(
    "/project/{project_uuid}/capture/{capture_uuid}/file/",
    summary="The stored file, byte for byte (Range supported)",
    description="The file as it was uploaded. A client on the server's machine that accepts "
    f"`{local_files.LOCAL_FILE_TYPE}` (and sends no `Range`) may instead get the file's path, "
    "with its size, mtime, inode and device, and copy it itself; see the "
    "`local_data_access` setting.",
    response_class=StreamingResponse,
    responses={
        200: {"content": local_files.LOCATION_CONTENT},
        **conflict("The capture is recording live; its file is stored when it stops."),
    },
)
def download_capture(
    project_uuid: str,
    capture_uuid: str,
    request: Request,
    caller: CurrentCaller,
    context: Context,
) -> Response:
    with context.db.read() as session:
        capture = service.get_capture(session, caller, project_uuid, capture_uuid)
    if capture.task_state == RECORDING:
        raise Conflict(
            f"Capture {capture.name!r} is recording; its file is stored when the recording "
            "stops. Its samples so far are at .../data/."
        )
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
        raise NotFound(
            f"Capture {capture_uuid} was deleted or its file replaced meanwhile; ask again."
        ) from None


@router.post(
    "/project/{project_uuid}/capture-files/",
    summary="Download links for several captures",
)
@bulk_body
def capture_files(
    project_uuid: str,
    caller: CurrentCaller,
    context: Context,
    body: Annotated[dict[str, Any], Body()],
) -> list[dict[str, Any]]:
    uuids = body.get("capture_uuids")
    if not isinstance(uuids, list) or not all(isinstance(u, str) for u in uuids):
        raise BadRequest(
            "capture_uuids must be a list of capture uuids.", data={"capture_uuids": ["required"]}
        )
    found: dict[str, str] = {}
    with context.db.read() as session:
        project = get_project(session, caller, project_uuid)
        # A thousand at a time: a whole project's list would pass the number of parameters a
        # statement may carry (65,535 on PostgreSQL).
        for start in range(0, len(uuids), CHUNK):
            rows = session.execute(
                select(Capture.uuid, Capture.name).where(
                    Capture.project_id == project.id,
                    Capture.uuid.in_(uuids[start : start + CHUNK]),
                )
            )
            found.update((uuid, name) for uuid, name in rows)
    missing = [uuid for uuid in uuids if uuid not in found]
    if missing:
        raise NotFound(f"Captures not found in this project: {', '.join(missing[:20])}.")
    return [
        {
            "uuid": uuid,
            "name": found[uuid],
            "url": f"project/{project_uuid}/capture/{uuid}/file/",
            "local": True,
        }
        for uuid in uuids
    ]


@router.get(
    "/project/{project_uuid}/capture/{capture_uuid}/data/",
    summary="The samples as an Arrow IPC stream, from the columnar copy",
    description="Rows `start <= i < end` of the capture's columnar copy, as an Arrow IPC "
    "stream. A client on the server's machine that accepts "
    f"`{local_files.LOCAL_FILE_TYPE}` may instead get the copy's file path (with its size, "
    "mtime, inode and device, to check it opened that very file) and read the rows itself; "
    "see the `local_data_access` setting.",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                ARROW_STREAM_TYPE: {"schema": {"type": "string", "format": "binary"}},
                **local_files.LOCATION_CONTENT,
            }
        }
    },
)
def capture_data(
    request: Request,
    project_uuid: str,
    capture_uuid: str,
    caller: CurrentCaller,
    context: Context,
    start: Annotated[int | None, Query(ge=0)] = None,
    end: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    from capturehub.server.captures.data import arrow_stream

    with context.db.read() as session:
        capture = service.get_capture(session, caller, project_uuid, capture_uuid)
    if capture.task_state == RECORDING:
        # Recording live: what is stored so far, from its batches (server/recording/).
        from capturehub.server.recording.service import stored_samples

        table = stored_samples(context, capture, start, end).table
        return StreamingResponse(table_messages(table), media_type=ARROW_STREAM_TYPE)
    if capture.task_state != "SUCCESS" or not capture.columnar_key:
        raise BadRequest(
            f"Capture {capture.name!r} has no data to read yet (task_state "
            f"{capture.task_state}); wait until it is SUCCESS."
        )
    try:
        located = local_files.location_response(
            request, context.settings, context.blobs, capture.columnar_key
        )
        if located is not None:
            return located
        chunks = arrow_stream(context.blobs, capture.columnar_key, start, end)
    except BlobNotFound:
        raise NotFound(
            f"Capture {capture_uuid} was deleted or its file replaced meanwhile; ask again."
        ) from None
    return StreamingResponse(chunks, media_type=ARROW_STREAM_TYPE)
