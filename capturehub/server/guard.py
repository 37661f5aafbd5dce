"""Refuse, before any route runs, request content that no route can store safely.

- NUL characters in the path or the query string: PostgreSQL cannot store them and they hide
  text in logs and terminals.
- JSON bodies that are not strict JSON: ``NaN`` and ``Infinity`` (Python's parser accepts
  them; PostgreSQL's JSON type does not, and they would come back as invalid JSON), lone
  surrogates (``"\\ud800"``: not encodable as UTF-8, so not storable), and NUL characters in
  strings.

Checking here, once, keeps every route from having to remember it. JSON bodies are small
(uploads are multipart and stream past untouched), so reading one whole to check it is cheap.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from capturehub.server.errors import error_response

MAX_JSON_BYTES = 64 * 1024 * 1024


class BadContent(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise BadContent(f"{name} is not valid JSON; send numbers, or null for a missing value.")


def _check_strings(value: Any) -> None:
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


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
            response = error_response(400, "The URL may not contain NUL characters (%00).")
            await response(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        # No content type counts as JSON: FastAPI parses such bodies as JSON too.
        is_json = content_type in (b"", b"application/json") or content_type.endswith(b"+json")
        if not is_json:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_JSON_BYTES:
                response = error_response(413, "The JSON body is larger than 64 MiB.")
                await response(scope, receive, send)
                return
        if body.strip():
            try:
                _check_strings(json.loads(body, parse_constant=_reject_constant))
            except BadContent as exc:
                await error_response(400, str(exc))(scope, receive, send)
                return
            except RecursionError:
                await error_response(400, "The JSON body is nested too deeply.")(
                    scope, receive, send
                )
                return
            except ValueError:
                pass  # not JSON at all: the route's own parsing says so
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
