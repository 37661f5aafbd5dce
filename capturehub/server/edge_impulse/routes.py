"""Edge Impulse's HTTP API: the ingestion routes (``/api/{category}/files``, ``.../data``) and
the Studio subset under ``/v1/api/``. HTTP in and out only: the rules are in samples.py and
studio.py, the files go through the capture lifecycle.

Every answer has Edge Impulse's shape: ``{"success": true, ...}``, or on an error
``{"success": false, "error": "..."}`` with a 4xx (the clients test ``success``). The key
(``x-api-key``) is checked before one byte of a body is read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute

from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute
from capturehub.server.edge_impulse.keys import ProjectCaller, project_caller, team_hmac_key
from capturehub.server.edge_impulse.multipart import DOCUMENT_BYTES, receive_files
from capturehub.server.edge_impulse.samples import ReceivedFile, RequestOptions, SampleIntake
from capturehub.server.edge_impulse.studio import Studio
from capturehub.server.errors import APIError, BadRequest, PayloadTooLarge
from capturehub.server.security_headers import SECURITY_HEADERS


def failure(status_code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"success": False, "error": message},
        status_code=status_code,
        headers=dict(SECURITY_HEADERS),
    )


class EdgeImpulseRoute(APIRoute):
    """Answers errors in Edge Impulse's shape instead of capturehub's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except APIError as exc:
                return failure(exc.status_code, exc.message)
            except RequestValidationError as exc:
                details = "; ".join(
                    f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg')}"
                    for error in exc.errors()
                )
                return failure(400, f"Invalid request: {details}")

        return handle


# Not in capturehub's OpenAPI document: this is Edge Impulse's API (its own key header and
# error shape), described by Edge Impulse and, for what capturehub answers, by
# docs/edge-impulse.md.
router = APIRouter(route_class=EdgeImpulseRoute, include_in_schema=False)

ApiKey = Annotated[str | None, Header(alias="x-api-key")]


async def _who(request: Request, key: str | None) -> ProjectCaller:
    context = request.app.state.context
    return await run_in_threadpool(project_caller, context.db, key)


@router.post(
    "/api/{category}/files/",
    summary="Edge Impulse ingestion: upload files (multipart, parts named `data`)",
)
async def ingest_files(
    category: str, request: Request, context: Context, x_api_key: ApiKey = None
) -> Any:
    who = await _who(request, x_api_key)
    options = RequestOptions.from_headers(category, request.headers)
    intake = SampleIntake(context, who, options)
    results = await receive_files(request, intake, context.settings.edge_impulse_max_file_bytes)
    return {"success": True, "files": [result.to_json(who.project_id) for result in results]}


@router.post(
    "/api/{category}/data/",
    summary="Edge Impulse ingestion: upload one file as the body (x-file-name required)",
)
async def ingest_data(
    category: str, request: Request, context: Context, x_api_key: ApiKey = None
) -> Any:
    who = await _who(request, x_api_key)
    if category == "split":
        raise BadRequest("The split category takes files at /api/split/files only.")
    options = RequestOptions.from_headers(category, request.headers)
    filename = request.headers.get("x-file-name")
    if not filename:
        raise BadRequest("The x-file-name header is required: the name of the file sent.")
    # Percent-encoded by the Node clients, like x-label.
    filename = _with_suffix(unquote(filename), request.headers.get("content-type", ""))
    intake = SampleIntake(context, who, options)
    limit = context.settings.edge_impulse_max_file_bytes
    incoming = intake.incoming()
    with incoming:  # leaving with an error keeps nothing of the body
        writer = incoming.open_writer()
        digest = hashlib.sha256()
        size = 0
        kept = bytearray()
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"The file is larger than this server's limit of {limit} bytes per file "
                    "(setting CAPTUREHUB_EDGE_IMPULSE_MAX_FILE_BYTES)."
                )
            digest.update(chunk)
            writer.write(chunk)
            if len(kept) < DOCUMENT_BYTES:
                kept += chunk[: DOCUMENT_BYTES - len(kept)]
        received = ReceivedFile(
            filename=filename,
            incoming=incoming,
            size=size,
            sha256=digest.hexdigest(),
            head=bytes(kept),
        )
        result = await run_in_threadpool(intake.store, received)
    if result.error is not None:
        raise BadRequest(result.error)
    return PlainTextResponse(result.name or "")


def _with_suffix(filename: str, content_type: str) -> str:
    """The older route names the format by the content type; the file name may not."""
    media = content_type.split(";", 1)[0].strip().lower()
    suffix = {"application/json": ".json", "application/cbor": ".cbor", "text/csv": ".csv"}.get(
        media
    )
    if suffix and not filename.lower().endswith(suffix):
        return filename + suffix
    return filename


# -- the Studio API subset ----------------------------------------------------------------


@router.get("/v1/api/projects/", summary="Edge Impulse Studio: the key's project")
def list_projects(request: Request, context: Context, x_api_key: ApiKey = None) -> Any:
    return Studio(context, project_caller(context.db, x_api_key)).projects()


@router.get("/v1/api/{project_id}/", summary="Edge Impulse Studio: project information")
def get_project(project_id: int, context: Context, x_api_key: ApiKey = None) -> Any:
    return Studio(context, project_caller(context.db, x_api_key)).project(project_id)


@router.get("/v1/api/{project_id}/devkeys/hmac/", summary="Edge Impulse Studio: the HMAC key")
def get_hmac_key(project_id: int, context: Context, x_api_key: ApiKey = None) -> Any:
    return Studio(context, project_caller(context.db, x_api_key)).hmac_key(project_id)


@router.get("/v1/api/{project_id}/raw-data/count/", summary="Edge Impulse Studio: count samples")
def count_samples(
    project_id: int,
    context: Context,
    category: str = "all",
    labels: str | None = None,
    filename: str | None = None,
    x_api_key: ApiKey = None,
) -> Any:
    studio = Studio(context, project_caller(context.db, x_api_key))
    return studio.count(project_id, category, labels, filename)


@router.get("/v1/api/{project_id}/raw-data/", summary="Edge Impulse Studio: list samples")
def list_samples(
    project_id: int,
    context: Context,
    category: str = "all",
    labels: str | None = None,
    filename: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0)] = None,
    x_api_key: ApiKey = None,
) -> Any:
    studio = Studio(context, project_caller(context.db, x_api_key))
    return studio.samples(project_id, category, labels, filename, offset, limit)


@router.post(
    "/v1/api/{project_id}/raw-data/delete-all/", summary="Edge Impulse Studio: delete all samples"
)
def delete_all_samples(project_id: int, context: Context, x_api_key: ApiKey = None) -> Any:
    return Studio(context, project_caller(context.db, x_api_key)).delete_all(project_id, None)


@router.post(
    "/v1/api/{project_id}/raw-data/delete-all/{category}/",
    summary="Edge Impulse Studio: delete all samples of a category",
)
def delete_category(
    project_id: int, category: str, context: Context, x_api_key: ApiKey = None
) -> Any:
    studio = Studio(context, project_caller(context.db, x_api_key))
    return studio.delete_all(project_id, category)


@router.get("/v1/api/{project_id}/raw-data/{sample_id}/", summary="Edge Impulse Studio: a sample")
def get_sample(
    project_id: int,
    sample_id: int,
    context: Context,
    limit_payload_values: Annotated[int | None, Query(alias="limitPayloadValues", ge=0)] = None,
    x_api_key: ApiKey = None,
) -> Any:
    studio = Studio(context, project_caller(context.db, x_api_key))
    return studio.sample(project_id, sample_id, limit_payload_values)


@router.delete(
    "/v1/api/{project_id}/raw-data/{sample_id}/", summary="Edge Impulse Studio: delete a sample"
)
def delete_sample(
    project_id: int, sample_id: int, context: Context, x_api_key: ApiKey = None
) -> Any:
    return Studio(context, project_caller(context.db, x_api_key)).delete(project_id, sample_id)


# -- in capturehub's own API: the HMAC key for a logged-in user (SDK, CLI) -----------------

keys_router = APIRouter(route_class=GuardedRoute, tags=["projects"])


@keys_router.get(
    "/project/{project_uuid}/edge-impulse/hmac-key/",
    summary="The project's HMAC key, for signing Edge Impulse acquisition documents (HS256)",
)
def project_hmac_key(project_uuid: str, caller: CurrentCaller, context: Context) -> Any:
    return {"hmac_key": team_hmac_key(context.db, caller, project_uuid)}
