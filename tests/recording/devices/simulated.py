"""Simulated devices that speak what real firmware speaks, for tests and benchmarks.

- :class:`TcpStreamingDevice`: SensiML Simple Streaming over Wi-Fi, an HTTP server on a
  loopback port (``GET /config``, ``GET /stream``), version 1 or 2, optionally damaging some
  v2 packets' checksums or sending garbage between packets.
- :class:`SerialStreamingDevice`: the same protocol on the master side of a pseudo-terminal
  pair (pyserial opens the slave by name): the configuration line until ``connect``, binary
  until ``disconnect``.
- :class:`SerialLineDevice`: a line-printing device (``ax,ay,az`` per line) on a
  pseudo-terminal, as Edge Impulse's data forwarder reads.

Each keeps what it sent as rows, so a test can compare a capture with it value for value.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import select
import socket
import threading
import time
import tty
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from capturehub.recording.devices import config_line
from capturehub.recording.simple_streaming import StreamConfig, encode_packet, pack_rows

Rows = list[list[int]]


def ramp_rows(count: int, columns: int, start: int = 0) -> Rows:
    """Distinct int16 rows that use the whole range, negatives included."""
    return [
        [((index * 7919 + column * 104729) % 65536) - 32768 for column in range(columns)]
        for index in range(start, start + count)
    ]


@dataclass
class Stream:
    """What one device stream sends: its chunks of bytes and which rows made it intact."""

    chunks: list[bytes] = field(default_factory=list)
    intact_rows: Rows = field(default_factory=list)
    bad_packets: int = 0


def build_stream(
    config: StreamConfig,
    rows: Rows,
    *,
    bad_checksum_every: int = 0,
    garbage_every: int = 0,
    first_sequence: int = 1,
) -> Stream:
    """The bytes a device sends for ``rows``, chunked per packet. Version 2: every
    ``bad_checksum_every``-th packet gets a wrong checksum (its rows never count as sent
    intact), and ``garbage_every``-th packets are preceded by stray bytes (with 0xFF in them)."""
    stream = Stream()
    per_packet = config.samples_per_packet
    for number, start in enumerate(range(0, len(rows), per_packet), start=first_sequence):
        packet_rows = rows[start : start + per_packet]
        if config.version == 1:
            stream.chunks.append(pack_rows(packet_rows))
            stream.intact_rows.extend(packet_rows)
            continue
        packet = encode_packet(packet_rows, sequence=number)
        if garbage_every and number % garbage_every == 0:
            packet = b"\x00\xff\x13\xff\x02\x00garbage" + packet
        if bad_checksum_every and number % bad_checksum_every == 0:
            packet = packet[:-1] + bytes([packet[-1] ^ 0x5A])
            stream.bad_packets += 1
        else:
            stream.intact_rows.extend(packet_rows)
        stream.chunks.append(packet)
    return stream


def paced(chunks: Sequence[bytes], rows_per_chunk: int, rate: float | None) -> Iterator[bytes]:
    """The chunks at the device's real pace (``rate`` rows a second), or at once (None)."""
    started = time.monotonic()
    for index, chunk in enumerate(chunks):
        if rate:
            delay = started + index * rows_per_chunk / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield chunk


class TcpStreamingDevice:
    """``with TcpStreamingDevice(config, stream) as device:`` then ``device.url``.

    ``GET /stream`` sends the stream's chunks (at ``pace`` rows a second when given), then
    closes the connection when ``close_at_end`` (the device ends), else waits for the client
    to close it (as firmware does). ``stopped_by_client`` tells whether the client closed it.
    """

    def __init__(
        self,
        config: StreamConfig,
        stream: Stream | Callable[[], Iterator[bytes]],
        *,
        pace: float | None = None,
        close_at_end: bool = True,
    ) -> None:
        self.config = config
        self.stream = stream
        self.pace = pace
        self.close_at_end = close_at_end
        self.streams_opened = 0
        self.stopped_by_client = threading.Event()
        self.bytes_sent = 0
        device = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/config":
                    body = config_line(device.config).strip()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif self.path == "/stream":
                    device.streams_opened += 1
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.end_headers()
                    device._send(self.wfile, self.connection)
                else:
                    self.send_error(404)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _chunks(self) -> Iterator[bytes]:
        if isinstance(self.stream, Stream):
            return paced(self.stream.chunks, self.config.samples_per_packet, self.pace)
        return self.stream()

    def _send(self, out: Any, connection: socket.socket) -> None:
        try:
            for chunk in self._chunks():
                out.write(chunk)
                out.flush()
                self.bytes_sent += len(chunk)
            if self.close_at_end:
                return
            # Idle until the client closes the connection.
            while True:
                readable, _, _ = select.select([connection], [], [], 0.2)
                if readable and not connection.recv(1024):
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.stopped_by_client.set()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> TcpStreamingDevice:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _PtyDevice:
    """The master side of a pseudo-terminal pair; ``port`` is the slave's name."""

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        # Raw at once: a cooked slave would echo our own bytes back to us before pyserial
        # opens it (pyserial sets raw mode too, but only when it opens).
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.received = bytearray()

    def _run(self) -> None:
        raise NotImplementedError

    def _incoming(self, timeout: float) -> bytes:
        readable, _, _ = select.select([self._master], [], [], timeout)
        if not readable:
            return b""
        try:
            data = os.read(self._master, 1024)
        except OSError:
            return b""
        self.received += data
        return data

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._stop.is_set():
            _, writable, _ = select.select([], [self._master], [], 0.1)
            if writable:
                view = view[os.write(self._master, view[:4096]) :]

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for fd in (self._master, self._slave):
            with suppress(OSError):
                os.close(fd)


class SerialStreamingDevice(_PtyDevice):
    """Simple Streaming on a serial line: the configuration line every ``announce_every``
    seconds until ``connect``, then the stream (paced at ``pace`` rows a second), then idle
    until ``disconnect``, which brings the configuration lines back."""

    def __init__(
        self,
        config: StreamConfig,
        stream: Stream | Callable[[], Iterator[bytes]],
        *,
        announce_every: float = 0.2,
        pace: float | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.stream = stream
        self.announce_every = announce_every
        self.pace = pace
        self.connected = threading.Event()
        self.disconnected = threading.Event()

    def _run(self) -> None:
        last_announce = 0.0
        while not self._stop.is_set():
            if b"connect" in self.received and not self.connected.is_set():
                self.connected.set()
                chunks = (
                    paced(self.stream.chunks, self.config.samples_per_packet, self.pace)
                    if isinstance(self.stream, Stream)
                    else self.stream()
                )
                for chunk in chunks:
                    if self._stop.is_set():
                        return
                    self._write(chunk)
                    self._incoming(0)
                    if b"disconnect" in self.received:
                        break
            if b"disconnect" in self.received:
                self.disconnected.set()
            if not self.connected.is_set() or self.disconnected.is_set():
                now = time.monotonic()
                if now - last_announce >= self.announce_every:
                    self._write(config_line(self.config))
                    last_announce = now
            self._incoming(0.02)


class SerialLineDevice(_PtyDevice):
    """Prints ``rows`` as text lines at ``rate`` lines a second (``separator`` between
    values), then goes quiet; ``sent`` is every row written."""

    def __init__(
        self, rows: Iterable[Sequence[float]], *, rate: float, separator: str = ","
    ) -> None:
        super().__init__()
        self.rows = rows
        self.rate = rate
        self.separator = separator
        self.sent: list[Sequence[float]] = []
        self.finished = threading.Event()

    def _run(self) -> None:
        started = time.monotonic()
        for index, row in enumerate(self.rows):
            if self._stop.is_set():
                return
            delay = started + index / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            # Like a UART nobody reads, a line that does not fit is lost, not held back to
            # be sent later in a burst (which would fake a much higher rate).
            _, writable, _ = select.select([], [self._master], [], 0)
            if writable:
                self._write((self.separator.join(repr(value) for value in row) + "\r\n").encode())
                self.sent.append(row)
        self.finished.set()


def endless_packets(config: StreamConfig) -> Callable[[], Iterator[bytes]]:
    """A device's endless stream at its real pace: a slow sine on each column (a different
    phase each), as packets of ``config``'s version."""

    def chunks() -> Iterator[bytes]:
        started = time.monotonic()
        per_packet = config.samples_per_packet
        columns = len(config.columns)
        for number in itertools.count(1):
            first = (number - 1) * per_packet
            rows = [
                [
                    round(8000 * math.sin(2 * math.pi * (index / config.sample_rate + c / columns)))
                    for c in range(columns)
                ]
                for index in range(first, first + per_packet)
            ]
            delay = started + first / config.sample_rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield encode_packet(rows, sequence=number) if config.version == 2 else pack_rows(rows)

    return chunks


def main(argv: list[str] | None = None) -> None:
    """Run a simulated device until Ctrl-C, to try ``capturehub record`` without hardware."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.recording.devices.simulated", description=main.__doc__
    )
    parser.add_argument("kind", choices=["tcp", "serial", "lines"])
    parser.add_argument("--rate", type=float, default=None, help="samples per second")
    parser.add_argument("--version", type=int, choices=[1, 2], default=2)
    parser.add_argument(
        "--columns",
        default=None,
        help="comma-separated names (Simple Streaming default: AccelerometerX ... GyroZ, six)",
    )
    args = parser.parse_args(argv)
    six = "AccelerometerX,AccelerometerY,AccelerometerZ,GyroX,GyroY,GyroZ"
    columns = tuple((args.columns or ("x,y,z" if args.kind == "lines" else six)).split(","))
    if args.kind == "lines":
        rate = args.rate or 100.0

        def lines() -> Iterator[list[float]]:
            for index in itertools.count():
                phase = index / rate
                yield [round(math.sin(2 * math.pi * (phase + c / 3)), 4) for c in columns_range]

        columns_range = range(len(columns))
        with SerialLineDevice(lines(), rate=rate) as device:
            print(f"line device ({len(columns)} values a line, {rate:g} Hz) on {device.port}")
            _wait()
        return
    config = StreamConfig(
        sample_rate=args.rate or 476,
        columns=columns,
        version=args.version,
        samples_per_packet=6,
    )
    if args.kind == "tcp":
        with TcpStreamingDevice(config, endless_packets(config), close_at_end=False) as tcp:
            print(f"Simple Streaming v{config.version} device on {tcp.url}")
            _wait()
    else:
        with SerialStreamingDevice(config, endless_packets(config)) as serial_device:
            print(f"Simple Streaming v{config.version} device on serial {serial_device.port}")
            _wait()


def _wait() -> None:
    print("Ctrl-C stops it", flush=True)
    with suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
