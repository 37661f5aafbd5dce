"""Reading a device that streams samples: Simple Streaming over TCP or serial, or text lines
over serial. ``open_device(url)`` answers a :class:`Device` whose ``read_rows()`` gives the
rows as they arrive; :mod:`capturehub.recording.recorder` moves them into a recording.

Device URLs:

- ``tcp://HOST:PORT``: SensiML Simple Streaming over Wi-Fi. ``GET /config`` answers the
  configuration JSON, ``GET /stream`` a long ``application/octet-stream`` response of samples;
  closing that connection is what stops the device.
- ``serial:///dev/ttyACM0?baud=460800&mode=auto``: a serial port (``serial://COM3`` on
  Windows). ``mode=simple``: Simple Streaming, whose device prints its configuration JSON as a
  line until it reads ``connect``, then streams binary until ``disconnect``. ``mode=lines``:
  one reading per line (Edge Impulse's data forwarder's devices). ``mode=auto`` (the default)
  listens and takes whichever it hears. ``baud`` defaults to 115200.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx

from capturehub.recording.line_mode import DetectionError, LineDecoder, Row, detect_shape
from capturehub.recording.simple_streaming import (
    ConfigurationError,
    Decoder,
    StreamConfig,
    decoder_for,
    parse_config,
)

DEFAULT_BAUD = 115200
# Simple Streaming devices print their configuration about once a second until connected.
CONFIG_WAIT_SECONDS = 3.0
CONNECT = b"connect"
DISCONNECT = b"disconnect"


class DeviceError(Exception):
    """The device cannot be opened or read; the message says what to check."""


class DeviceEnded(Exception):
    """The device closed its stream (or was asked to stop)."""


@dataclass
class DeviceStats:
    """Counts for the live view: what arrived, and what had to be left out."""

    rows: int = 0
    bytes_read: int = 0
    packets: int = 0
    dropped_packets: int = 0  # Simple Streaming v2 packets that failed their checksum
    lost_packets: int = 0  # v2 sequence numbers that never arrived intact
    skipped_bytes: int = 0  # bytes between v2 packets that were not a packet
    bad_lines: int = 0  # line mode: lines that were not numbers, or not as many of them


class Device(ABC):
    """An open device. ``read_rows()`` is called from one thread; ``interrupt()`` may be
    called from any other to make it return (then raise :class:`DeviceEnded`)."""

    url: str
    protocol: str
    columns: tuple[str, ...]
    sample_rate: float

    def __init__(self) -> None:
        self._interrupted = threading.Event()
        self._rows = 0
        self._bytes = 0

    @abstractmethod
    def read_rows(self) -> list[Row]:
        """The rows that arrived since the last call (possibly none after a short wait)."""

    @abstractmethod
    def close(self) -> None:
        """Stop the device's stream and release the connection (from the reading thread)."""

    @abstractmethod
    def stats(self) -> DeviceStats: ...

    def interrupt(self) -> None:
        self._interrupted.set()

    @property
    def interrupted(self) -> bool:
        return self._interrupted.is_set()


def _decoder_stats(decoder: Decoder, bytes_read: int) -> DeviceStats:
    stats = decoder.stats
    return DeviceStats(
        rows=stats.rows,
        bytes_read=bytes_read,
        packets=stats.packets,
        dropped_packets=stats.dropped_packets,
        lost_packets=stats.lost_packets,
        skipped_bytes=stats.skipped_bytes,
    )


class TcpStreamingDevice(Device):
    """Simple Streaming over Wi-Fi: an HTTP server on the device."""

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        super().__init__()
        self.url = f"tcp://{host}:{port}"
        base = f"http://{host}:{port}"
        self._http = httpx.Client(base_url=base, timeout=httpx.Timeout(timeout))
        try:
            response = self._http.get("/config")
        except httpx.TransportError as exc:
            self._http.close()
            raise DeviceError(f"cannot reach the device at {base}/config ({exc})") from exc
        if response.status_code != 200:
            self._http.close()
            raise DeviceError(
                f"{base}/config answered HTTP {response.status_code}, not the configuration"
            )
        try:
            self.config = parse_config(response.content)
        except ConfigurationError as exc:
            self._http.close()
            raise DeviceError(f"{base}/config: {exc}") from exc
        self.columns = self.config.columns
        self.sample_rate = self.config.sample_rate
        self.protocol = f"Simple Streaming v{self.config.version}"
        self._decoder = decoder_for(self.config)
        try:
            request = self._http.build_request("GET", "/stream")
            self._response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            self._http.close()
            raise DeviceError(f"cannot open {base}/stream ({exc})") from exc
        if self._response.status_code != 200:
            self._response.close()
            self._http.close()
            raise DeviceError(f"{base}/stream answered HTTP {self._response.status_code}")
        self._chunks = self._response.iter_raw()

    def read_rows(self) -> list[Row]:
        if self.interrupted:
            raise DeviceEnded("stopped")
        try:
            data = next(self._chunks)
        except StopIteration:
            raise DeviceEnded("the device closed its stream") from None
        except httpx.TimeoutException as exc:
            raise DeviceError(f"{self.url} sent nothing for {self._http.timeout.read} s") from exc
        except httpx.TransportError as exc:
            if self.interrupted:
                raise DeviceEnded("stopped") from exc
            raise DeviceError(f"{self.url}: the stream broke ({exc})") from exc
        self._bytes += len(data)
        return cast(list[Row], self._decoder.feed(data))

    def interrupt(self) -> None:
        super().interrupt()
        # Wake a read blocked in recv(): shutting the socket down makes it return at once.
        stream: Any = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        # Closing the /stream connection is the protocol's way to stop the device.
        self._response.close()
        self._http.close()

    def stats(self) -> DeviceStats:
        return _decoder_stats(self._decoder, self._bytes)


class SerialDevice(Device):
    """A serial port, speaking Simple Streaming or text lines (``mode``)."""

    def __init__(
        self,
        port: str,
        *,
        baud: int = DEFAULT_BAUD,
        mode: str = "auto",
        rate: float | None = None,
        column_names: Sequence[str] | None = None,
        listen_seconds: float = 1.0,
    ) -> None:
        super().__init__()
        if mode not in ("auto", "simple", "lines"):
            raise DeviceError(f"mode must be auto, simple or lines, not {mode!r}")
        try:
            import serial
        except ImportError as exc:  # pragma: no cover - pyserial is a dependency
            raise DeviceError("reading a serial port needs pyserial: pip install pyserial") from exc
        self.url = f"serial://{port}?baud={baud}"
        try:
            self._port = serial.Serial(port, baudrate=baud, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceError(f"cannot open {port} at {baud} baud ({exc})") from exc
        self._serial_error: type[Exception] = serial.SerialException
        self._decoder: Decoder | None = None
        self._lines: LineDecoder | None = None
        self._pending_rows: list[Row] = []
        self._preamble: bytearray | None = None
        try:
            self._listen(mode, rate, column_names, listen_seconds)
        except BaseException:
            self._port.close()
            raise

    def _read(self) -> bytes:
        try:
            data: bytes = self._port.read(max(1, self._port.in_waiting))
        except (self._serial_error, OSError) as exc:
            raise DeviceError(f"{self.url}: reading failed ({exc})") from exc
        self._bytes += len(data)
        return data

    def _listen(
        self,
        mode: str,
        rate: float | None,
        column_names: Sequence[str] | None,
        listen_seconds: float,
    ) -> None:
        """Hear what the device says: a configuration line (Simple Streaming) or lines of
        numbers, keeping the rows heard so that none is lost to the detection."""
        started = time.monotonic()
        wait = CONFIG_WAIT_SECONDS if mode == "simple" else max(listen_seconds, 0.1)
        if mode == "auto":
            wait = max(CONFIG_WAIT_SECONDS, listen_seconds)
        buffer = bytearray()
        first_line = True  # opened mid-line: the first line's start was never read
        arrivals: list[tuple[float, Row]] = []
        lines = LineDecoder()
        while time.monotonic() - started < wait:
            if self.interrupted:
                raise DeviceEnded("stopped")
            buffer += self._read()
            while b"\n" in buffer:
                raw, _, rest = bytes(buffer).partition(b"\n")
                buffer = bytearray(rest)
                if first_line:
                    first_line = False
                    continue
                text = raw.decode("utf-8", errors="replace").strip()
                if mode != "lines" and text.startswith("{"):
                    try:
                        config = parse_config(text)
                    except ConfigurationError as exc:
                        if '"column_location"' in text:
                            raise DeviceError(f"{self.url}: {exc}") from exc
                        continue
                    self._start_simple_streaming(config, rate, bytes(buffer))
                    return
                row = lines.feed(raw + b"\n")
                if row:
                    arrivals.append((time.monotonic(), row[0]))
            if mode == "auto" and arrivals and time.monotonic() - started >= listen_seconds:
                break
        if mode == "simple":
            raise DeviceError(
                f"{self.url}: no Simple Streaming configuration line in {wait:g} s; "
                "check the baud rate, or use mode=lines for a device printing numbers"
            )
        self._start_lines(arrivals, listen_seconds, rate, column_names, bytes(buffer))

    def _start_simple_streaming(
        self, config: StreamConfig, rate: float | None, rest: bytes
    ) -> None:
        if rate is not None and rate != config.sample_rate:
            raise DeviceError(
                f"the device announces {config.sample_rate:g} Hz; --rate {rate:g} "
                "applies only to line mode"
            )
        self.config = config
        self.columns = config.columns
        self.sample_rate = config.sample_rate
        self.protocol = f"Simple Streaming v{config.version}"
        self._decoder = decoder_for(config)
        self._port.write(CONNECT)
        self._port.flush()
        # What follows may still hold (part of) a configuration line printed before the
        # device read `connect`; see _strip_preamble.
        self._preamble = bytearray(rest)

    def _start_lines(
        self,
        arrivals: list[tuple[float, Row]],
        listen_seconds: float,
        rate: float | None,
        column_names: Sequence[str] | None,
        rest: bytes,
    ) -> None:
        try:
            columns, detected_rate = detect_shape(arrivals, listen_seconds)
        except DetectionError as exc:
            if rate is None or not arrivals:
                raise DeviceError(f"{self.url}: {exc}") from exc
            columns, detected_rate = len(arrivals[0][1]), rate
        if column_names:
            if len(column_names) != columns:
                raise DeviceError(
                    f"{self.url} sends {columns} values per line, but "
                    f"{len(column_names)} column names were given"
                )
            self.columns = tuple(column_names)
        else:
            self.columns = tuple(f"axis{index + 1}" for index in range(columns))
        self.sample_rate = rate if rate is not None else detected_rate
        self.protocol = "lines"
        self._lines = LineDecoder(columns=columns)
        heard = [row for _, row in arrivals]
        self._pending_rows = [row for row in heard if len(row) == columns]
        self._lines.stats.bad_lines += len(heard) - len(self._pending_rows)
        self._lines.stats.rows += len(self._pending_rows)
        self._pending_rows += self._lines.feed(rest)

    def _strip_preamble(self, data: bytes) -> bytes | None:
        """Drop configuration lines that arrive after ``connect`` was sent; None while it is
        too early to tell. The binary stream is taken to start at the first byte that does not
        begin a ``{"`` line (a v1 stream whose first sample starts with those two bytes would
        lose its first line: one chance in 65,536)."""
        assert self._preamble is not None
        self._preamble += data
        while True:
            head = bytes(self._preamble[:2])
            if len(head) < 2 and b'{"'.startswith(head):
                return None
            if head != b'{"':
                break
            end = self._preamble.find(b"\n")
            if end < 0:
                return None
            del self._preamble[: end + 1]
        rest = bytes(self._preamble)
        self._preamble = None
        return rest

    def read_rows(self) -> list[Row]:
        if self.interrupted:
            raise DeviceEnded("stopped")
        if self._pending_rows:
            rows, self._pending_rows = self._pending_rows, []
            return rows
        data = self._read()
        if self._lines is not None:
            return self._lines.feed(data)
        assert self._decoder is not None
        if self._preamble is not None:
            stripped = self._strip_preamble(data)
            if stripped is None:
                return []
            data = stripped
        return cast(list[Row], self._decoder.feed(data))

    def close(self) -> None:
        try:
            if self._decoder is not None:
                self._port.write(DISCONNECT)
                self._port.flush()
        except (self._serial_error, OSError):
            pass  # the device is gone already
        finally:
            self._port.close()

    def stats(self) -> DeviceStats:
        if self._decoder is not None:
            return _decoder_stats(self._decoder, self._bytes)
        stats = self._lines.stats if self._lines is not None else None
        return DeviceStats(
            rows=stats.rows if stats else 0,
            bytes_read=self._bytes,
            bad_lines=stats.bad_lines if stats else 0,
        )


def open_device(
    url: str,
    *,
    rate: float | None = None,
    column_names: Sequence[str] | None = None,
    listen_seconds: float = 1.0,
) -> Device:
    """The device a URL names, opened and streaming (see the module's docstring)."""
    parts = urlsplit(url)
    if parts.scheme == "tcp":
        if not parts.hostname or not parts.port:
            raise DeviceError(f"{url}: a TCP device is tcp://HOST:PORT")
        if rate is not None or column_names:
            raise DeviceError("--rate and --columns apply to line-mode serial devices only")
        return TcpStreamingDevice(parts.hostname, parts.port)
    if parts.scheme == "serial":
        port = parts.netloc + parts.path
        if not port:
            raise DeviceError(f"{url}: a serial device is serial:///dev/ttyX (or serial://COM3)")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"baud", "mode"}
        if unknown:
            raise DeviceError(f"{url}: unknown option(s) {', '.join(sorted(unknown))}")
        try:
            baud = int(query.get("baud", DEFAULT_BAUD))
        except ValueError:
            raise DeviceError(f"{url}: baud must be a whole number") from None
        return SerialDevice(
            port,
            baud=baud,
            mode=query.get("mode", "auto"),
            rate=rate,
            column_names=column_names,
            listen_seconds=listen_seconds,
        )
    raise DeviceError(
        f"{url}: a device is tcp://HOST:PORT or serial:///dev/ttyX?baud=460800 "
        f"(not {parts.scheme or 'a path'})"
    )


def config_line(config: StreamConfig) -> bytes:
    """The configuration as a device prints it on a serial line."""
    return json.dumps(config.to_json()).encode() + b"\r\n"
