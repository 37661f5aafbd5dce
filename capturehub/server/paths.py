"""Path normalisation, before routing.

The wire API's paths end in ``/`` (wire-api §1), and clients send them with or without it;
both must be answered without a redirect (the SensiML SDK would not follow one with a
body). Routes are declared with the slash and this middleware adds it when it is missing.
It also strips the configured prefix (e.g. ``/api``) so that the server answers under
``http://host/api/`` and at the root alike.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

# Paths that are files, not API routes: never given a trailing slash.
_UNTOUCHED = ("/openapi.json", "/docs", "/redoc")
_UNTOUCHED_FOLDERS = ("/docs/assets/", "/static/")


class NormalizePath:
    def __init__(self, app: ASGIApp, prefix: str = "") -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
                path = path[len(self.prefix) :] or "/"
            if (
                not path.endswith("/")
                and path not in _UNTOUCHED
                and not path.startswith(_UNTOUCHED_FOLDERS)
            ):
                path += "/"
            if path != scope["path"]:
                scope = dict(scope, path=path, raw_path=path.encode("utf-8", "surrogateescape"))
        await self.app(scope, receive, send)
