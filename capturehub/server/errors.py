"""One error class and one JSON shape for every error the server answers.

Shape (wire-api §1): ``{"status": <code>, "detail": "<message>", "data": {field: [messages]}}``,
``data`` only for validation errors. Services raise :class:`APIError` (or a subclass); the
handlers installed by :func:`install_error_handlers` turn it, FastAPI's validation errors and
Starlette's HTTP errors into that shape, so a client never sees another format.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from capturehub.server.security_headers import SECURITY_HEADERS
from capturehub.storage import StoreMisconfigured, StoreUnavailable
from capturehub.tasks import QueueUnavailable

log = logging.getLogger("capturehub.server")

POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


class APIError(Exception):
    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        data: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.data = data
        self.headers = headers


class BadRequest(APIError):
    status_code = 400


class Unauthorized(APIError):
    status_code = 401

    def __init__(
        self,
        message: str = "Authentication credentials were not provided or are "
        "invalid; log in again (POST oauth/token/) or check your API key.",
    ) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class NotFound(APIError):
    status_code = 404


class Conflict(APIError):
    status_code = 409


class PayloadTooLarge(APIError):
    status_code = 413


class UnsupportedMediaType(APIError):
    status_code = 415


class TooManyRequests(APIError):
    status_code = 429


def error_response(
    status_code: int,
    message: str,
    data: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"status": status_code, "detail": message}
    if data:
        body["data"] = data
    return JSONResponse(body, status_code=status_code, headers=headers)


def _validation_data(exc: RequestValidationError) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        field = ".".join(location) or "request"
        data.setdefault(field, []).append(str(error.get("msg", "invalid value")))
    return data


# PostgreSQL SQLSTATEs of a server that cannot take the request now: shutting down, starting,
# or out of connection slots (class 08, connection exceptions, is checked by prefix).
POSTGRES_UNAVAILABLE = {"57P01", "57P02", "57P03", "53300"}


# A transaction PostgreSQL refused because another one changed what it read or locked
# (serialization failure, deadlock): nothing was written, and the same request may succeed
# at once; answered 503 with Retry-After where the service has not already run it again.
POSTGRES_TRANSIENT = {"40001", "40P01"}


def is_serialization_failure(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in POSTGRES_TRANSIENT


def database_condition(exc: OperationalError) -> int | None:
    """507 for a full disk, 503 for a database that cannot answer now, else None."""
    cause = exc.orig
    code = getattr(cause, "sqlite_errorcode", None)
    if code is not None:
        primary = code & 0xFF  # extended result codes keep the primary one in the low byte
        if primary == sqlite3.SQLITE_FULL:
            return 507
        if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return 503  # the write lock held past the busy timeout
        return None
    state = getattr(cause, "sqlstate", None)
    if state == POSTGRES_DISK_FULL:
        return 507
    if state is None:
        # No SQLSTATE: a client-side error. Without a statement it was opening a connection
        # (refused, or the server is gone); with one, a bug such as too many parameters.
        return 503 if exc.statement is None or exc.connection_invalidated else None
    if state in POSTGRES_TRANSIENT:
        return 503
    if exc.connection_invalidated or state.startswith("08") or state in POSTGRES_UNAVAILABLE:
        return 503
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status_code, exc.message, exc.data, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        data = _validation_data(exc)
        summary = "; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in data.items())
        return error_response(400, f"Invalid request: {summary}", data)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = "No such route; see /docs for the API."
        if exc.status_code == 405:
            message = "This method is not allowed on this route; see /docs for the API."
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    # Safety nets: values a database cannot hold that a route did not check itself. They are
    # the client's input, so a 400, never a 500.
    @app.exception_handler(DataError)
    async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
        log.warning("database refused a value: %s", exc.orig)
        return error_response(
            400, "A value in the request is out of range or not valid for its field."
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_request: Request, exc: OverflowError) -> JSONResponse:
        return error_response(400, "A number in the request is too large.")

    # A full disk is the server's condition, not the client's fault, but it is one the person
    # running the server can act on, and the client may retry once space is freed. The write
    # that failed is abandoned and its partial file removed (the blob writers abort); what
    # was stored before is untouched.
    @app.exception_handler(OSError)
    async def _storage(request: Request, exc: OSError) -> JSONResponse:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            return await _unexpected(request, exc)
        log.error("storage full: %s", exc)
        return error_response(
            507,
            "The server has no storage space left for this request; nothing was stored. Free "
            "space on its data volume (or raise its quota) and retry.",
        )

    # The database's own refusals that are conditions, not bugs: its disk is full (a 507, as
    # above), or it cannot answer now (a 503 the client may retry). Anything else raised as an
    # OperationalError (a bad statement, too many parameters...) stays a 500.
    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError) -> JSONResponse:
        condition = database_condition(exc)
        if condition == 507:
            log.error("database storage full: %s", exc.orig)
            return error_response(
                507,
                "The server's database has no storage space left; nothing was changed. Free "
                "space on its volume and retry.",
            )
        if condition == 503:
            log.error("database unavailable: %s", exc.orig)
            return error_response(
                503,
                "The server's database did not answer; retry in a moment.",
                headers={"Retry-After": "5"},
            )
        return await _unexpected(request, exc)

    # The job broker (Redis) did not answer: a condition of the cluster that passes, checked
    # before an upload is kept, so the client may simply send it again.
    @app.exception_handler(QueueUnavailable)
    async def _broker(_request: Request, exc: QueueUnavailable) -> JSONResponse:
        log.error("job broker unavailable: %s", exc)
        return error_response(
            503,
            "The server's job queue did not answer; nothing was stored. Retry in a moment.",
            headers={"Retry-After": "5"},
        )

    # Every database connection of this server stayed busy for database_pool_timeout_seconds:
    # the server is overloaded (or its database slow), which a client may retry later.
    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(_request: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no free database connection: %s", exc)
        return error_response(
            503,
            "The server is busy (every database connection is in use); retry in a moment.",
            headers={"Retry-After": "5"},
        )

    # The object store (S3) is down or unreachable: like the database, a condition the client
    # may retry; the blob writers abort, so nothing half-stored is left visible.
    @app.exception_handler(StoreUnavailable)
    async def _store(_request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.error("blob store unavailable: %s", exc)
        return error_response(
            503,
            "The server's file storage did not answer; retry in a moment.",
            headers={"Retry-After": "5"},
        )

    # The object store refuses this server's configuration (credentials, permissions, a
    # missing bucket): the server's condition, not the request's, so a 503 as above, but one
    # that only its operator can end; the log says which setting to correct.
    @app.exception_handler(StoreMisconfigured)
    async def _store_refused(_request: Request, exc: StoreMisconfigured) -> JSONResponse:
        log.error("blob store refused this server's configuration: %s", exc)
        return error_response(
            503,
            "The server's file storage refused its request: its S3 credentials or bucket are "
            "not set up right (the server log says which setting). Nothing was stored; tell "
            "the server's operator, then retry.",
            headers={"Retry-After": "60"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        # Answered outside the middleware that sets these on every other answer.
        return error_response(
            500,
            "Internal server error; the server log has the details.",
            headers=dict(SECURITY_HEADERS),
        )


def conflict(description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can answer 409: what conflicts, in the user's words (the
    OpenAPI document gives it the error shape, capturehub/server/openapi.py)."""
    return {409: {"description": description}}
