"""``project/{p}/recordings/{c}/stream``: a recording's batches over one WebSocket.

The protocol (docs/recording.md, "The WebSocket"): on connect the server says ``hello`` with
the last stored sequence number (a client that reconnects resumes after it) and the flow
control ``window``; the client sends batches as JSON text frames ``{"seq", "values"}`` or as
binary frames (capturehub/recording_frames.py); the server answers each stored batch with
``{"ack": seq, "samples": n}`` only after the recording service committed it, and each bad
one with ``{"bad": seq, ...}``, keeping the connection open.

Memory stays bounded whatever the client does: at most ``window`` received batches wait here
for the service's writer (one at a time per connection, in order; the writer stores the
batches of every connection waiting at that moment in one transaction, writer.py); a batch
beyond the window is answered ``{"refused": seq}`` and dropped, to be sent again once acks
arrive. Frames larger than the HTTP body limit are refused in the same way, without being
parsed.

Authentication is the API's: the ``Authorization: Bearer`` header (SDK, devices, gateways), or
the web UI's session cookie, which a browser sends with the handshake but which is accepted
only with the page's CSRF token in the ``csrf_token`` query parameter and an ``Origin`` equal
to the server's own (another site's page can neither read the token nor forge the Origin).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from anyio import to_thread
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from capturehub.recording_frames import FrameError, decode_batch
from capturehub.server.auth.service import Caller, authenticate
from capturehub.server.auth.web_session import csrf_matches, session_token
from capturehub.server.context import AppContext
from capturehub.server.errors import APIError, Unauthorized
from capturehub.server.recording import service
from capturehub.server.recording.schemas import BatchAck
from capturehub.server.recording.service import BadBatch, Target

log = logging.getLogger("capturehub.server.recording")

router = APIRouter()

# Close codes: 4000 + the HTTP status the same refusal gets over HTTP (4401, 4403, 4404...).
APP_CLOSE_BASE = 4000


@dataclass
class Incoming:
    seq: int
    rows: Any  # list of rows (JSON) or a (rows, channels) float64 array (binary)


class Refusal(Exception):
    """The connection is refused before any batch: the API's status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if not origin or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def _token_of(websocket: WebSocket) -> str:
    """The bearer token, or the session cookie of a same-origin page that sent its CSRF
    token; Refusal otherwise."""
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    cookie = session_token(websocket)
    if cookie is None:
        raise Refusal(401, Unauthorized().message)
    if not _same_origin(websocket) or not csrf_matches(
        cookie, websocket.query_params.get("csrf_token")
    ):
        raise Refusal(
            403,
            "A browser's WebSocket needs the page's CSRF token (csrf_token=...) and must come "
            "from this server's own pages; reload the page and try again.",
        )
    return cookie


def _caller(context: AppContext, token: str) -> Caller:
    with context.db.read(snapshot=False) as session:
        caller = authenticate(session, token)
    if caller is None:
        raise Refusal(401, "The access token or API key is invalid or expired; log in again.")
    return caller


def _parse_text(text: str) -> Incoming:
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadBatch(f"The text frame is not JSON: {exc}.") from exc
    if not isinstance(body, dict) or "seq" not in body or "values" not in body:
        raise BadBatch('A text frame is a JSON object {"seq": n, "values": [[...], ...]}.')
    seq = body["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise BadBatch(f"seq must be a non-negative integer, not {seq!r}.")
    return Incoming(seq=seq, rows=body["values"])


def _seq_of(text: str) -> int | None:
    try:
        seq = orjson.loads(text).get("seq")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


class Connection:
    """One client's stream: a receiving loop and a storing task joined by a bounded queue."""

    def __init__(
        self,
        websocket: WebSocket,
        context: AppContext,
        caller: Caller,
        project_uuid: str,
        capture_uuid: str,
    ) -> None:
        self.websocket = websocket
        self.context = context
        self.caller = caller
        self.project_uuid = project_uuid
        self.capture_uuid = capture_uuid
        self.window = context.settings.recording_stream_window
        self.max_frame = context.settings.max_request_body_bytes
        self.queue: asyncio.Queue[Incoming] = asyncio.Queue(maxsize=self.window)
        self.send_lock = asyncio.Lock()
        self.bad_batches = 0
        self.target: Target | None = None

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.websocket.send_text(orjson.dumps(message).decode())

    async def bad(self, seq: int | None, message: str, *, counted: bool = True) -> None:
        """Report a refused batch; one the service never saw is counted in the recording's
        bad_batches here (``counted=False``)."""
        self.bad_batches += 1
        if not counted:
            await to_thread.run_sync(
                lambda: service.count_bad_batch(
                    self.context, self.caller, self.project_uuid, self.capture_uuid, message
                )
            )
        await self.send({"bad": seq, "message": message, "bad_batches": self.bad_batches})

    async def receive(self) -> None:
        while True:
            frame = await self.websocket.receive()
            if frame["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(frame.get("code", 1000))
            text: str | None = frame.get("text")
            data: bytes | None = frame.get("bytes")
            size = len(text) if text is not None else len(data or b"")
            if size > self.max_frame:
                seq = None
                message = f"A frame is at most {self.max_frame} bytes; split the batch."
                await self.bad(None, message, counted=False)
                continue
            try:
                if text is not None:
                    incoming = _parse_text(text)
                else:
                    batch = decode_batch(data or b"")
                    incoming = Incoming(seq=batch.seq, rows=batch.rows)
            except (BadBatch, FrameError) as exc:
                seq = _seq_of(text) if text is not None else None
                await self.bad(seq, str(exc), counted=False)
                continue
            if self.queue.full():
                await self.send(
                    {
                        "refused": incoming.seq,
                        "message": f"More than {self.window} batches are waiting for their "
                        "ack; wait for one and send this batch again.",
                        "window": self.window,
                    }
                )
                continue
            self.queue.put_nowait(incoming)

    async def store(self) -> None:
        while True:
            incoming = await self.queue.get()
            try:
                ack = await self.append(incoming)
            except BadBatch as exc:
                await self.bad(incoming.seq, exc.message)
                continue
            except APIError as exc:
                # The recording stopped, or was deleted: nothing more can be stored.
                await self.send({"error": exc.message, "status": exc.status_code})
                await self.websocket.close(APP_CLOSE_BASE + exc.status_code)
                return
            await self.send(
                {
                    "ack": ack.seq,
                    "samples": ack.samples,
                    "rows": ack.rows,
                    "duplicate": ack.duplicate,
                }
            )

    async def append(self, incoming: Incoming) -> BatchAck:
        """The service's ack, once the writer committed the batch (with the other batches
        waiting then, of every connection); this connection's next batch waits meanwhile,
        so its batches are stored in order."""
        assert self.target is not None  # looked up by run() before any batch is read
        future = service.submit_batches(self.context, self.target, [(incoming.seq, incoming.rows)])
        (answer,) = await asyncio.wrap_future(future)
        if isinstance(answer, APIError):
            raise answer
        return answer

    async def run(self) -> None:
        status = await to_thread.run_sync(
            lambda: service.recording_status(
                self.context, self.caller, self.project_uuid, self.capture_uuid
            )
        )
        self.target = await to_thread.run_sync(
            lambda: service.target_of(
                self.context, self.caller, self.project_uuid, self.capture_uuid
            )
        )
        await self.send(
            {
                "hello": status.uuid,
                "state": status.state,
                "last_seq": status.last_seq,
                "samples": status.samples,
                "channels": [channel["name"] for channel in status.channels],
                "window": self.window,
                "max_frame_bytes": self.max_frame,
            }
        )
        storing = asyncio.create_task(self.store())
        receiving = asyncio.create_task(self.receive())
        done, pending = await asyncio.wait(
            {storing, receiving}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect):
                raise error


# Declared with the slash NormalizePath adds (server/paths.py): clients send either.
@router.websocket("/project/{project_uuid}/recordings/{capture_uuid}/stream/")
async def stream(websocket: WebSocket, project_uuid: str, capture_uuid: str) -> None:
    context: AppContext = websocket.app.state.context
    await websocket.accept()
    try:
        token = _token_of(websocket)
        caller = await to_thread.run_sync(_caller, context, token)
        await Connection(websocket, context, caller, project_uuid, capture_uuid).run()
    except Refusal as exc:
        await _refuse(websocket, exc.status, exc.message)
    except APIError as exc:
        await _refuse(websocket, exc.status_code, exc.message)
    except WebSocketDisconnect:
        pass


async def _refuse(websocket: WebSocket, status: int, message: str) -> None:
    """The API's status and message as the last message, then a close code that says it."""
    if websocket.client_state != WebSocketState.CONNECTED:
        return
    try:
        await websocket.send_text(orjson.dumps({"error": message, "status": status}).decode())
        # A close reason is at most 123 bytes.
        reason = message.encode()[:120].decode(errors="ignore")
        await websocket.close(APP_CLOSE_BASE + status, reason=reason)
    except (WebSocketDisconnect, RuntimeError):
        pass
