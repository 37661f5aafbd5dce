"""Turn an HTTP error answer or an ``httpx`` failure into the SDK's exception tree.

This is the one place that knows both ``httpx`` and :mod:`capturehub.exceptions`; everything
above the transport sees only the latter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from capturehub.exceptions import (
    APIError,
    AuthenticationError,
    CapturehubError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    ServerError,
    ServerUnreachableError,
    ValidationError,
)

ErrorOverrides = Mapping[int, type[APIError]]

STATUS_ERRORS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
}

_MAX_TEXT_DETAIL = 500


def error_for_response(
    response: httpx.Response, overrides: ErrorOverrides | None = None
) -> APIError:
    """The exception for an error answer, carrying the server's ``detail`` and ``data``.

    The body must have been read. ``overrides`` lets a caller name a more precise class for a
    status (a 409 on a capture upload is a :class:`CaptureExistsError`).
    """
    status = response.status_code
    detail, data = _parse_error_body(response)
    cls = (overrides or {}).get(status) or STATUS_ERRORS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    request = response.request
    return cls(detail, status_code=status, data=data, method=request.method, url=str(request.url))


def _parse_error_body(response: httpx.Response) -> tuple[str, dict[str, Any] | None]:
    if response.is_redirect:  # never followed: a POST would be resent as a GET, without body
        location = response.headers.get("location", "?")
        return f"the server redirected to {location}; use that address as server=", None
    fallback = response.reason_phrase or f"HTTP {response.status_code}"
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = response.text.strip()
        return (text[:_MAX_TEXT_DETAIL] or fallback), None
    if not isinstance(body, dict):
        return json.dumps(body)[:_MAX_TEXT_DETAIL], None
    # wire-api §1 errors carry "detail"; OAuth errors (§2) carry "error"/"error_description".
    detail = body.get("detail") or body.get("error_description") or body.get("error") or fallback
    if not isinstance(detail, str):
        detail = json.dumps(detail)
    data = body.get("data")
    return detail, data if isinstance(data, dict) else None


def error_for_transport(exc: httpx.HTTPError, method: str, url: str) -> CapturehubError:
    """The exception for a request that got no usable answer."""
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(
            f"the server did not answer in time ({type(exc).__name__}); raise the client's "
            "timeout or check the server's load",
            method=method,
            url=url,
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return CapturehubError(f"cannot send this request: {exc}", method=method, url=url)
    if isinstance(exc, httpx.TransportError):
        return ServerUnreachableError(
            f"cannot reach the server ({type(exc).__name__}: {exc}); is it running at this "
            "address?",
            method=method,
            url=url,
        )
    return CapturehubError(f"invalid answer from the server: {exc}", method=method, url=url)


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON of a success answer; a non-JSON answer is a :class:`ServerError`."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        request = response.request
        raise ServerError(
            f"expected JSON, got {response.headers.get('content-type', 'no content type')!r}: "
            f"{response.text[:200]!r}; is this address a capturehub server?",
            status_code=response.status_code,
            method=request.method,
            url=str(request.url),
        ) from exc
