"""Headers that tell a browser to be careful with every answer of the server.

- ``X-Content-Type-Options: nosniff``: a stored file or an error is never run as a script
  or styled as a page because its bytes look like one.
- ``Referrer-Policy: no-referrer``: URLs (with project and capture ids) do not leak to other
  sites through links.
- ``Content-Security-Policy``: no page of the server may be framed by another site
  (``frame-ancestors 'none'``, against clickjacking), and a page may load scripts, styles,
  images and data only from the server itself (the API docs serve their assets locally,
  server/docs.py); ``'unsafe-inline'`` styles because Swagger UI sets style attributes.
- ``X-Frame-Options: DENY``: the same as ``frame-ancestors`` for browsers that predate CSP.

Set in an outermost middleware, so errors, file downloads and the docs pages get them too; a
header a route set itself is kept.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
