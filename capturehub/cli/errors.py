"""One-line CLI errors: the SDK's exceptions, and a few of the CLI's own, with a hint.

Every command runs inside :func:`translate`'s reach (see ``main.CapturehubGroup``): what a
person sees is ``Error: <what went wrong>; <what to do>`` on one line, never a traceback,
unless ``capturehub --debug`` asked for one.
"""

from __future__ import annotations

import re

import click
import httpx

from capturehub.exceptions import (
    AuthenticationError,
    CapturehubError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    ServerUnreachableError,
)

LOGIN_HINT = "check --server (or CAPTUREHUB_SERVER), or log in with `capturehub login --server URL`"


class CliError(click.ClickException):
    """A failure explained in one line, with an optional hint of what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        message = message.strip()
        if hint:
            message = f"{message.rstrip('.;')}; {hint}"
        super().__init__(message)


def server_of(url: str | None) -> str:
    """``http://host:port/`` of a request URL, for messages."""
    if not url:
        return "the server"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}/"


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__
    text = str(cause) if cause is not None else ""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text).strip()
    return text.lower() if text else type(cause).__name__ if cause is not None else "no answer"


def translate(exc: Exception) -> click.ClickException:
    """The one-line CLI error for an exception raised by a command."""
    if isinstance(exc, click.ClickException):
        return exc
    if isinstance(exc, RequestTimeoutError):
        return CliError(
            f"{server_of(exc.url)} did not answer in time",
            "it may be overloaded; try again, or with fewer --workers",
        )
    if isinstance(exc, ServerUnreachableError):
        return CliError(f"cannot reach {server_of(exc.url)} ({_reason(exc)})", LOGIN_HINT)
    if isinstance(exc, AuthenticationError):
        hint = (
            "check CAPTUREHUB_API_KEY, or create a key with `capturehub apikey create`"
            if "API key" in exc.detail
            else "log in again with `capturehub login`"
        )
        return CliError(f"not authenticated at {server_of(exc.url)}: {exc.detail}", hint)
    if isinstance(exc, PermissionDeniedError):
        return CliError(f"not allowed: {exc.detail}")
    if isinstance(exc, NotFoundError):
        return CliError(f"not found: {exc.detail}")
    if isinstance(exc, CapturehubError):
        return CliError(exc.detail)
    if isinstance(exc, FileNotFoundError):
        return CliError(f"no such file or folder: {exc.filename or exc}")
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return CliError(f"{exc.strerror or exc}{where}")
    if isinstance(exc, ValueError):
        return CliError(str(exc))
    return CliError(
        f"unexpected error ({type(exc).__name__}: {exc})",
        "run again with `capturehub --debug ...` for the traceback, and report it",
    )
