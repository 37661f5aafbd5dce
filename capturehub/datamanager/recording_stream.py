"""Streaming a recording's batches over its WebSocket (docs/recording.md, "The WebSocket").

:class:`RecordingStream` numbers the batches, keeps at most the server's window of them
unacknowledged (``send`` waits for acks when the window is full), and when the connection
breaks it connects again, learns the last batch the server stored from its ``hello`` and sends
again only the batches after it: nothing acknowledged is sent twice and nothing is skipped.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from capturehub._transport.connection import Connection
from capturehub.exceptions import (
    APIError,
    AuthenticationError,
    CapturehubError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ServerUnreachableError,
)
from capturehub.recording_frames import encode_batch

_ERRORS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
}


@dataclass
class StreamCounters:
    """What the server said so far: batches acknowledged, samples it holds, bad batches
    (with their messages), refused batches (sent again), reconnections."""

    acked: int = 0
    samples: int = 0
    last_acked_seq: int | None = None
    bad: list[tuple[int | None, str]] = field(default_factory=list)
    refused: int = 0
    reconnects: int = 0


def stream_url(connection: Connection, project_uuid: str, capture_uuid: str) -> str:
    url = connection.url_for(f"project/{project_uuid}/recordings/{capture_uuid}/stream")
    return "ws" + url[4:] if url.startswith("http") else url


class RecordingStream:
    """One recording's batches over a WebSocket; use as a context manager (closing flushes).

    ``binary=True`` sends the compact binary frame (float32 values, or float64 with
    ``value_size=8``); ``binary=False`` sends JSON text frames, whose numbers are kept as
    written. ``reconnect_seconds`` bounds how long a broken connection is tried again."""

    def __init__(
        self,
        connection: Connection,
        project_uuid: str,
        capture_uuid: str,
        *,
        binary: bool = True,
        value_size: int = 8,
        reconnect_seconds: float = 60.0,
        timeout: float = 60.0,
    ) -> None:
        self._connection = connection
        self._url = stream_url(connection, project_uuid, capture_uuid)
        self.binary = binary
        self.value_size = value_size
        self.reconnect_seconds = reconnect_seconds
        self.timeout = timeout
        self.counters = StreamCounters()
        self.window = 1
        self.next_seq = 1
        # Sent and not acknowledged yet, by seq, in order: what a reconnection sends again.
        self._unacked: OrderedDict[int, bytes | str] = OrderedDict()
        self._socket: ClientConnection | None = None
        self._connect()
        hello_seq = self.counters.last_acked_seq
        self.next_seq = 1 if hello_seq is None else hello_seq + 1

    # -- public -----------------------------------------------------------------------------

    def send(self, rows: Sequence[Sequence[float]] | np.ndarray) -> int:
        """Sends one batch of rows; its seq. Waits first while the window is full."""
        seq = self.next_seq
        self.next_seq += 1
        frame: bytes | str
        if self.binary:
            frame = encode_batch(seq, np.asarray(rows), value_size=self.value_size)
        else:
            values = rows.tolist() if isinstance(rows, np.ndarray) else [list(r) for r in rows]
            frame = json.dumps({"seq": seq, "values": values}, allow_nan=False)
        self._wait(lambda: len(self._unacked) < self.window)
        self._unacked[seq] = frame
        self._transmit(frame)
        self.poll()
        return seq

    def poll(self) -> None:
        """Reads the server's messages already received, without waiting."""
        self._read(timeout=0)

    def flush(self) -> None:
        """Waits until every batch sent is acknowledged (or reported bad)."""
        self._wait(lambda: not self._unacked)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def __enter__(self) -> RecordingStream:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        elif self._socket is not None:
            self._socket.close()

    # -- internals --------------------------------------------------------------------------

    def _open(self) -> ClientConnection:
        _, authorization = self._connection.tokens.authorization()
        try:
            opening = connect(
                self._url,
                additional_headers={"Authorization": authorization},
                compression=None,
                proxy=None,
                open_timeout=self.timeout,
                max_size=2**22,
            )
            # The connection is closed by close() or a reconnection, not by a with block.
            return opening.__enter__()
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise _ERRORS.get(status, APIError)(
                f"The server refused the WebSocket ({status}).", status_code=status, url=self._url
            ) from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise ServerUnreachableError(
                f"Could not open the recording's WebSocket: {exc}", url=self._url
            ) from exc

    def _connect(self) -> None:
        """Connects (again, until ``reconnect_seconds`` pass), reads the hello and sends
        again what the server has not stored."""
        deadline = time.monotonic() + self.reconnect_seconds
        delay = 0.1
        while True:
            try:
                self._socket = self._open()
                hello = self._message(self._socket.recv(timeout=self.timeout))
                break
            except (ServerUnreachableError, ConnectionClosed, TimeoutError) as exc:
                self._socket = None
                if time.monotonic() + delay > deadline:
                    raise ServerUnreachableError(
                        f"The recording's WebSocket did not come back: {exc}", url=self._url
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        if "error" in hello:
            self._raise(hello)
        self.window = int(hello["window"])
        self.counters.samples = int(hello["samples"])
        last = hello["last_seq"]
        self.counters.last_acked_seq = last
        for seq in [s for s in self._unacked if last is not None and s <= last]:
            del self._unacked[seq]  # stored before the connection broke; its ack was lost
        for frame in list(self._unacked.values()):
            self._transmit(frame)

    def _transmit(self, frame: bytes | str) -> None:
        while True:
            try:
                assert self._socket is not None
                self._socket.send(frame)
                return
            except ConnectionClosed:
                self._reconnect()
                return  # the reconnection sent every unacknowledged batch, this one included

    def _reconnect(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        self.counters.reconnects += 1
        self._connect()

    def _wait(self, done: Any) -> None:
        deadline = time.monotonic() + self.timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CapturehubError(
                    f"{len(self._unacked)} batches were not acknowledged in {self.timeout} s",
                    url=self._url,
                )
            self._read(timeout=min(remaining, 1.0), at_least_one=True)

    def _read(self, *, timeout: float, at_least_one: bool = False) -> None:
        first = at_least_one
        while True:
            try:
                assert self._socket is not None
                raw = self._socket.recv(timeout=timeout if first else 0)
            except TimeoutError:
                return
            except ConnectionClosed:
                self._reconnect()
                return
            first = False
            self._handle(self._message(raw))

    @staticmethod
    def _message(raw: str | bytes) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(raw)
        return message

    def _handle(self, message: dict[str, Any]) -> None:
        if "ack" in message:
            seq = int(message["ack"])
            self._unacked.pop(seq, None)
            self.counters.acked += 1
            self.counters.samples = int(message["samples"])
            last = self.counters.last_acked_seq
            self.counters.last_acked_seq = seq if last is None else max(last, seq)
        elif "bad" in message:
            seq = message["bad"]
            if seq is not None:
                self._unacked.pop(int(seq), None)
            self.counters.bad.append((seq, str(message.get("message"))))
        elif "refused" in message:
            # Only a client that lost count of its window is refused; connecting again sends
            # every unacknowledged batch again, in order.
            self.counters.refused += 1
            self._reconnect()
        elif "error" in message:
            self._raise(message)

    def _raise(self, message: dict[str, Any]) -> None:
        status = int(message.get("status") or 0)
        raise _ERRORS.get(status, APIError)(
            str(message["error"]), status_code=status or None, url=self._url
        )
