"""Every error the SDK raises, in one tree, so callers can catch as broadly as they like.

Each exception carries what the server said (``detail``, its HTTP ``status_code`` and any
per-field ``data``), so the message a user sees is the server's own explanation of what went
wrong. Errors from the HTTP library are translated at the edge (``capturehub._transport``):
no ``httpx`` exception reaches user code.

::

    CapturehubError
    ├── ServerUnreachableError        no HTTP answer (refused, reset); a builtin ConnectionError
    │   └── RequestTimeoutError       no answer in time; also a builtin TimeoutError
    ├── APIError                      the server answered with an error status
    │   ├── ValidationError           400: the request was refused as invalid
    │   │   └── CaptureUploadFailureError ... (see below; also raised without a status)
    │   ├── AuthenticationError       401, or a login refused (bad password, unknown API key)
    │   ├── PermissionDeniedError     403
    │   ├── NotFoundError             404
    │   ├── ConflictError             409
    │   │   └── CaptureExistsError    409 on a capture upload or rename: the name is taken
    │   └── ServerError               5xx
    └── BulkUploadError               some files of ``Captures.upload_many`` failed

``CaptureUploadFailureError`` is raised when the server could not process an upload: with
``asynchronous=False`` the upload itself is answered 400 (``status_code`` 400); with
``asynchronous=True`` processing ends in ``task_state`` FAILURE and ``await_ready``/``ready``
raise it (``status_code`` None). Either way ``detail`` holds the server's message, which says
which line or column was wrong.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "BulkUploadError",
    "CaptureExistsError",
    "CaptureUploadFailureError",
    "CapturehubError",
    "ConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "RequestTimeoutError",
    "ServerError",
    "ServerUnreachableError",
    "ValidationError",
]


class CapturehubError(Exception):
    """Base class of every error the SDK raises.

    Attributes:
        detail: the server's human-readable message (or the SDK's, when there was no answer).
        status_code: the HTTP status of the answer, or None when there was none.
        data: per-field messages the server sent with a validation error, else None.
        method, url: the request that failed, when the error comes from a request.
    """

    def __init__(
        self,
        detail: str,
        *,
        status_code: int | None = None,
        data: Mapping[str, Any] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code
        self.data = dict(data) if data is not None else None
        self.method = method
        self.url = url

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method and self.url else ""
        status = f"{self.status_code}: " if self.status_code is not None else ""
        return f"{status}{self.detail}{where}"


class ServerUnreachableError(CapturehubError, builtins.ConnectionError):
    """No HTTP answer: connection refused, DNS failure, connection reset, TLS failure.

    Raised only after the SDK's own retries ran out. It is also a builtin ``ConnectionError``,
    so code written against the standard library's exceptions catches it too.
    """


class RequestTimeoutError(ServerUnreachableError, builtins.TimeoutError):
    """The server did not answer within the client's timeout (after retries)."""


class APIError(CapturehubError):
    """The server answered with an error status; ``status_code`` and ``detail`` say which."""


class ValidationError(APIError):
    """400: the server refused the request as invalid; ``data`` names the fields."""


class AuthenticationError(APIError):
    """401, or a login refused: wrong username or password, unknown or revoked API key.

    The SDK refreshes an expired token by itself; this is raised only when that failed too.
    """


class PermissionDeniedError(APIError):
    """403: authenticated, but not allowed to do this."""


class NotFoundError(APIError):
    """404: no such object in this project and team (or no such route on this server)."""


class ConflictError(APIError):
    """409: the request conflicts with the server's state (a taken name, a capture still
    being processed)."""


class CaptureExistsError(ConflictError):
    """The project already holds a capture with this name (409 from the server)."""


class CaptureUploadFailureError(ValidationError):
    """The server could not process a capture's file; ``detail`` is its message."""


class ServerError(APIError):
    """5xx: the server failed; its log has the details. Retried first for 502/503/504."""


class BulkUploadError(CapturehubError):
    """Some uploads of :meth:`Captures.upload_many` failed; the others succeeded.

    Attributes:
        captures: the captures that were uploaded, in the order of the given paths.
        errors: for each path that failed, the exception it raised.
    """

    def __init__(self, captures: Sequence[Any], errors: Mapping[str, BaseException]) -> None:
        first = next(iter(errors.items()), None)
        summary = f"{len(errors)} of {len(captures) + len(errors)} uploads failed"
        if first is not None:
            summary += f"; first: {first[0]}: {first[1]}"
        super().__init__(summary)
        self.captures = list(captures)
        self.errors = dict(errors)
