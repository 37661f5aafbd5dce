"""``project/{p}/recordings/...``: live recording over plain HTTP. Only HTTP in and out; the
rules (sequence numbers, durability, back-pressure) are the service's (service.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.concurrency import run_in_threadpool

from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute
from capturehub.server.errors import BadRequest, conflict
from capturehub.server.recording import service
from capturehub.server.recording.schemas import RecordingSpec

router = APIRouter(route_class=GuardedRoute, tags=["recordings"])

BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["seq", "values"],
                    "properties": {
                        "seq": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "The batch's sequence number: higher than the "
                            "last stored; a seq already stored is acknowledged again and "
                            "not stored twice.",
                        },
                        "values": {
                            "type": "array",
                            "description": "Rows of samples, each one number per channel "
                            "in the recording's channel order.",
                            "items": {"type": "array", "items": {"type": "number"}},
                        },
                    },
                }
            }
        },
    }
}
BUSY: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "The server stores as many batches as it may at once: nothing was "
        "stored; send the batch again after Retry-After seconds."
    }
}


@router.post(
    "/project/{project_uuid}/recordings/",
    status_code=201,
    summary="Start a live recording (a new capture that grows batch by batch)",
    description="Creates the capture at once (listed with `recording: true`) and answers the "
    "recording's status; its `uuid` is the capture's. See docs/recording.md.",
    responses=conflict("The project already has a capture with this name."),
)
def start_recording(
    project_uuid: str, spec: RecordingSpec, caller: CurrentCaller, context: Context
) -> dict[str, Any]:
    return service.start_recording(context, caller, project_uuid, spec).to_json()


@router.get(
    "/project/{project_uuid}/recordings/",
    summary="The project's recordings in progress",
    description="Recordings not stopped yet, oldest first; `?all=true` adds stopped ones.",
)
def list_recordings(
    project_uuid: str,
    caller: CurrentCaller,
    context: Context,
    all: Annotated[bool, Query(description="include stopped recordings")] = False,
) -> list[dict[str, Any]]:
    recordings = service.list_recordings(context, caller, project_uuid, in_progress=not all)
    return [status.to_json() for status in recordings]


@router.get(
    "/project/{project_uuid}/recordings/{capture_uuid}/",
    summary="A recording's status (state, samples, last_seq, bad batches, gaps)",
)
def recording_status(
    project_uuid: str, capture_uuid: str, caller: CurrentCaller, context: Context
) -> dict[str, Any]:
    return service.recording_status(context, caller, project_uuid, capture_uuid).to_json()


@router.post(
    "/project/{project_uuid}/recordings/{capture_uuid}/batches/",
    summary="Append a batch of samples (answered once it is stored)",
    description='Body `{"seq": int, "values": [[...], ...]}`. Answered 200 with the '
    "acknowledgement only after the batch is committed to the database, so an acknowledged "
    "batch survives a crash of the server. A seq already stored is acknowledged again "
    "(`duplicate: true`) and stored once. A bad batch (wrong number of values in a row, a "
    "value that is not a finite number, a seq lower than the last one that was never "
    "stored) is a 400 saying what is wrong, counted in the status's `bad_batches`. A "
    "stopped recording is a 409.",
    openapi_extra=BATCH_BODY,
    responses={**conflict("The recording is stopped."), **BUSY},
)
async def append_batch(
    project_uuid: str,
    capture_uuid: str,
    caller: CurrentCaller,
    context: Context,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    if "seq" not in body or "values" not in body:
        raise BadRequest(
            'A batch is {"seq": <integer>, "values": [[...], ...]}; '
            f"this one has {', '.join(sorted(body)) or 'no fields'}.",
            data={field: ["required"] for field in ("seq", "values") if field not in body},
        )
    # Refused at once when the server is saturated, before a thread is taken for it.
    if not service.accepting_batches(context):
        raise service.RecordingBusy()
    ack = await run_in_threadpool(
        service.append_batch,
        context,
        caller,
        project_uuid,
        capture_uuid,
        body["seq"],
        body["values"],
    )
    return ack.to_json()


@router.post(
    "/project/{project_uuid}/recordings/{capture_uuid}/stop/",
    summary="Stop a recording: its original is stored and processed like an upload",
    description="Answers the recording's status once its original (the canonical CSV, or "
    "WAV for audio, of exactly the samples stored) is stored and queued for processing; "
    "the capture is then an ordinary capture (`task_state` SENT → SUCCESS). Stopping a "
    "stopped recording answers its status again.",
)
def stop_recording(
    project_uuid: str, capture_uuid: str, caller: CurrentCaller, context: Context
) -> dict[str, Any]:
    return service.stop_recording(context, caller, project_uuid, capture_uuid).to_json()
