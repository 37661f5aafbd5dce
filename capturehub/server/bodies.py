"""How a route receives its request body: who may send one, how big, of what type.

FastAPI reads a route's body before it resolves the route's dependencies, so left alone it
would read (and parse) a body of any size from anyone before finding out that the bearer
token is missing. :class:`GuardedRoute` is the route class of every router; before FastAPI's
own handler runs it

1. authenticates, on a route that takes a body and a bearer token: a request without a valid
   token gets its 401 before one byte of the body is read;
2. refuses a body that is not JSON on a route that takes JSON (415, a missing content type
   included: guessing would let a form or a file be parsed as JSON);
3. reads the body up to the route's limit (``max_request_body_bytes``, or
   ``max_bulk_request_body_bytes`` on the routes marked :func:`bulk_body`): a body declared
   or found larger is a 413, refused before it is read (declared) or as soon as it passes the
   limit (streamed);
4. parses a JSON body in a worker thread, strictly (:func:`parse_strict_json`), so that the
   event loop keeps answering other requests meanwhile, and hands the result to FastAPI
   (Starlette caches a request's body and JSON, FastAPI's handler reads them from there).

Multipart bodies on routes that read the request themselves (capture uploads) stream past:
they are written to the blob store as they arrive and have their own limit
(``max_upload_bytes``).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, params
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.responses import Response

from capturehub.server.auth.deps import bearer_scheme, current_caller
from capturehub.server.context import get_context
from capturehub.server.errors import (
    BadRequest,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from capturehub.server.settings import Settings

MIB = 1024 * 1024
BULK_MARK = "__capturehub_bulk_body__"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def bulk_body(endpoint: Endpoint) -> Endpoint:
    """Mark a route that takes many objects in one body (bulk create, set, delete): its body
    may be up to ``max_bulk_request_body_bytes`` instead of ``max_request_body_bytes``."""
    setattr(endpoint, BULK_MARK, True)
    return endpoint


def is_bulk(endpoint: object) -> bool:
    return bool(getattr(endpoint, BULK_MARK, False))


def body_limit(settings: Settings, *, bulk: bool) -> int:
    return settings.max_bulk_request_body_bytes if bulk else settings.max_request_body_bytes


def limit_text(limit: int) -> str:
    """A limit in MiB for a person to read (1 MiB, 16 MiB, 0.5 MiB)."""
    return f"{limit / MIB:g} MiB"


def too_large_message(limit: int, *, bulk: bool) -> str:
    setting = (
        "CAPTUREHUB_MAX_BULK_REQUEST_BODY_BYTES" if bulk else "CAPTUREHUB_MAX_REQUEST_BODY_BYTES"
    )
    advice = (
        "send the objects in several smaller requests"
        if bulk
        else "send less in one request (files go in a multipart upload)"
    )
    return (
        f"The request body is larger than this route's limit of {limit_text(limit)}; {advice}, "
        f"or ask the server's operator to raise {setting}."
    )


def depends_on(dependant: Dependant | None, call: Any) -> bool:
    """Whether ``call`` is among the dependencies, however deep (a route may depend on it
    through another dependency)."""
    if dependant is None:
        return False
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is call:
            return True
        stack.extend(current.dependencies)
    return False


class BadContent(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise BadContent(f"{name} is not valid JSON; send numbers, or null for a missing value.")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise BadContent("Text may not contain the control character U+0000 (NUL).")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadContent(
            "Text contains a lone surrogate (e.g. \\ud800), which is not a character; send "
            "valid Unicode."
        ) from None


def _check_values(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadContent(
                "Numbers must be finite (1e999 overflows to infinity); send a smaller number."
            )
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


def parse_strict_json(body: bytes) -> Any:
    """The JSON value of ``body``, refusing what no route can store: ``NaN`` and
    ``Infinity`` (Python's parser accepts them; PostgreSQL's JSON type does not, and they would
    come back as invalid JSON), lone surrogates (``"\\ud800"``: not encodable as UTF-8) and NUL
    characters in strings. Raises :class:`BadRequest` for those, and ``ValueError`` for a body
    that is not JSON at all (FastAPI's handler, or the route, says so in its own words)."""
    try:
        value = json.loads(body, parse_constant=_reject_constant)
        _check_values(value)
    except BadContent as exc:
        raise BadRequest(str(exc)) from None
    except RecursionError:
        raise BadRequest("The JSON body is nested too deeply.") from None
    return value


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json_type(media: str) -> bool:
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def has_body(request: Request) -> bool:
    """Whether the request says it carries a body (HTTP/1.1: a non-zero Content-Length, or a
    chunked Transfer-Encoding)."""
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() != "0"
    return "transfer-encoding" in request.headers


def declared_length(request: Request) -> int | None:
    try:
        return int(request.headers.get("content-length", ""))
    except ValueError:
        return None


async def read_limited(request: Request, limit: int, *, bulk: bool) -> bytes:
    length = declared_length(request)
    if length is not None and length > limit:
        raise PayloadTooLarge(too_large_message(limit, bulk=bulk))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(too_large_message(limit, bulk=bulk))
    return bytes(body)


class GuardedRoute(APIRoute):
    """The route class of every router (see the module's docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        body_field = self.body_field
        takes_form = body_field is not None and isinstance(body_field.field_info, params.Form)
        takes_json = body_field is not None and not takes_form
        # Routes without a declared body read the request themselves (capture uploads and
        # changes): their dependencies, authentication included, run before they read it.
        authenticate_first = body_field is not None and depends_on(self.dependant, bearer_scheme)
        bulk = is_bulk(self.endpoint)

        async def guarded(request: Request) -> Response:
            if not has_body(request):
                return await handler(request)
            if authenticate_first:
                await _authenticate(request)
            media = media_type(request)
            if takes_json and not is_json_type(media):
                raise UnsupportedMediaType(
                    f"This route takes a JSON body, sent as Content-Type: application/json; "
                    f"the request's content type is {media or 'missing'}."
                )
            if media == "multipart/form-data" and not takes_form:
                return await handler(request)  # an upload: streamed, with its own limit
            settings = get_context(request).settings
            limit = body_limit(settings, bulk=bulk)
            body = await read_limited(request, limit, bulk=bulk)
            request._body = body
            # A route that reads the request itself parses a body without a content type as
            # JSON too (capture changes): check it the same strict way.
            if body.strip() and (is_json_type(media) or (body_field is None and not media)):
                # A body that is not JSON at all: FastAPI's or the route's parsing says so.
                with contextlib.suppress(ValueError):
                    request._json = await run_in_threadpool(parse_strict_json, body)
            return await handler(request)

        return guarded


async def _authenticate(request: Request) -> None:
    """The route's own authentication, done early; ``current_caller`` keeps the caller in
    ``request.state`` so the route's dependency does not look the token up again."""
    credentials = await bearer_scheme(request)
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    await run_in_threadpool(current_caller, request, credentials, get_context(request))
