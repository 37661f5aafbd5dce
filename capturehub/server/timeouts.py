"""Slow or stalled clients cannot hold a connection: time limits on request headers and bodies.

uvicorn closes idle keep-alive connections, but a client that opens a connection and sends
half a request line, or half its headers, or half its body and then nothing, would keep it
(and a file handle, and on a body the request's thread) for as long as it liked; enough of
them exhaust the server.

- Headers: :class:`HeaderTimeoutProtocol`, uvicorn's HTTP protocol with one more timer. It
  runs from the moment a connection opens, or a request on it begins, until that request's
  headers are complete; when it fires, the client is answered 408 and the connection closed.
- Bodies: :class:`BodyTimeout`, an ASGI middleware: a route that waits longer than
  ``body_timeout_seconds`` for the next piece of a request body gets :class:`RequestTimeout`
  (a 408 answered with ``Connection: close``). Only waiting counts, so a long upload that
  keeps moving is never cut, and a route that is busy writing what it received is not either.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from capturehub.server.errors import error_response

HEADER_TIMEOUT_MESSAGE = "The request headers did not arrive in time; the connection is closed."


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request headers stall.

    ``header_timeout`` is set on the class by :func:`protocol_with_header_timeout`, as uvicorn
    builds the protocol itself with a fixed signature.
    """

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()  # a connection that never sends a byte is stalled too

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # the next request on a kept-alive connection
            self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A request is still being answered (pipelined, the next one half-sent): close
            # after that answer rather than cut it.
            self.cycle.keep_alive = False
            return
        body = json.dumps({"status": 408, "detail": HEADER_TIMEOUT_MESSAGE}).encode()
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()


def protocol_with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class to give uvicorn (``http=``), with this header time limit."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})


class RequestTimeout(HTTPException):
    """A request body stalled: answered 408, and the connection closed (its state is
    unknown: part of the body may still arrive)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"No part of the request body arrived for {seconds:g} s; the request is abandoned "
            "and nothing of it was stored. Send it again.",
            headers={"Connection": "close"},
        )


class BodyTimeout:
    """ASGI middleware: waiting for the next piece of a request body is limited to
    ``seconds``. Once the body is complete, ``receive`` is passed through untouched (a
    streamed answer waits on it for the client's disconnect for as long as it streams)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_complete = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_complete
            if body_complete:
                return await receive()
            try:
                with anyio.fail_after(self.seconds):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(self.seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_complete = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except RequestTimeout as exc:
            # Raised where no handler answers it (a middleware reading the body itself).
            if started:
                raise
            response = error_response(
                exc.status_code, str(exc.detail), headers={"Connection": "close"}
            )
            await response(scope, receive, send)
