"""Refuse, before routing, a URL that no route can handle safely: one with NUL characters in
its path or query string. PostgreSQL cannot store them, and they hide text in logs and
terminals. (Request bodies are checked by the route that takes them: server/bodies.py.)"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from capturehub.server.errors import error_response


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(scope.get("query_string", b""))
        ):
            response = error_response(400, "The URL may not contain NUL characters (%00).")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
