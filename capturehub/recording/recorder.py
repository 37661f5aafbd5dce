"""Moving a device's rows into a recording: one thread reads the device, another sends
batches, so a slow request never stalls the device (whose own buffers are small).

The two meet in a bounded queue of batches: when the server falls behind for longer than the
queue holds, the reading thread waits, and the device's flow control (TCP's window; on serial,
the kernel's buffer) takes over, rather than memory growing without end. Each batch carries its
sequence number, so the SDK's retries never store a batch twice.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from capturehub.recording.devices import Device, DeviceEnded, DeviceStats
from capturehub.recording.line_mode import Row

# Four batches a second: the live view and `get_data()` follow closely, the request rate
# stays low.
BATCH_SECONDS = 0.25
QUEUE_SECONDS = 120.0


class RecordingSink(Protocol):
    """Where batches go: the SDK's ``Recording`` (``append``), or anything alike in tests."""

    def append(self, values: list[Row], seq: int | None = None) -> Any: ...


@dataclass(frozen=True)
class Progress:
    """A snapshot for the live view."""

    elapsed: float
    samples_read: int
    samples_stored: int
    batches_stored: int
    batches_waiting: int
    rate: float  # samples per second over the last few seconds
    device: DeviceStats


class DeviceRecorder:
    """``start()``, then ``progress()`` as often as wanted, then ``stop()`` (or wait for the
    device to end with ``wait()``)."""

    def __init__(
        self, device: Device, sink: RecordingSink, *, batch_seconds: float = BATCH_SECONDS
    ) -> None:
        self.device = device
        self.sink = sink
        self._batch_rows = max(1, round(device.sample_rate * batch_seconds))
        self._batch_seconds = batch_seconds
        self._queue: queue.Queue[list[Row] | None] = queue.Queue(
            maxsize=max(4, round(QUEUE_SECONDS / batch_seconds))
        )
        self._lock = threading.Lock()
        self._read = 0
        self._stored = 0
        self._batches = 0
        self._history: deque[tuple[float, int]] = deque(maxlen=64)
        self._started = 0.0
        self._device_stats = DeviceStats()
        self.error: BaseException | None = None
        self.ended = threading.Event()  # the device ended or failed, or sending failed
        self._reader = threading.Thread(target=self._read_loop, name="device-reader", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name="batch-sender", daemon=True)

    def start(self) -> None:
        self._started = time.monotonic()
        self._reader.start()
        self._sender.start()

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
        self.ended.set()

    def _read_loop(self) -> None:
        pending: list[Row] = []
        first_at = 0.0
        try:
            while True:
                try:
                    rows = self.device.read_rows()
                except DeviceEnded:
                    break
                now = time.monotonic()
                if rows:
                    if not pending:
                        first_at = now
                    pending.extend(rows)
                    with self._lock:
                        self._read += len(rows)
                        self._device_stats = self.device.stats()
                while len(pending) >= self._batch_rows:
                    self._put(pending[: self._batch_rows])
                    del pending[: self._batch_rows]
                    first_at = now
                if pending and now - first_at >= self._batch_seconds:
                    self._put(pending)
                    pending = []
        except BaseException as exc:
            self._fail(exc)
        finally:
            try:
                self.device.close()
            except Exception as exc:
                self._fail(exc)
            with self._lock:
                self._device_stats = self.device.stats()
            if pending:
                self._put(pending)
            self._queue.put(None)
            self.ended.set()

    def _put(self, batch: list[Row]) -> None:
        while True:
            if self.error is not None:
                return  # sending failed: nothing will take it
            try:
                self._queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    def _send_loop(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self.error is not None:
                continue  # drain, so that the reader never waits on a full queue
            sequence = self._batches + 1
            try:
                self.sink.append(batch, seq=sequence)
            except BaseException as exc:
                self._fail(exc)
                self.device.interrupt()
                continue
            now = time.monotonic()
            with self._lock:
                self._batches = sequence
                self._stored += len(batch)
                self._history.append((now, self._stored))

    def progress(self) -> Progress:
        now = time.monotonic()
        with self._lock:
            history = [(t, n) for t, n in self._history if now - t <= 5.0]
            rate = 0.0
            if len(history) >= 2 and history[-1][0] > history[0][0]:
                rate = (history[-1][1] - history[0][1]) / (history[-1][0] - history[0][0])
            return Progress(
                elapsed=now - self._started if self._started else 0.0,
                samples_read=self._read,
                samples_stored=self._stored,
                batches_stored=self._batches,
                batches_waiting=self._queue.qsize(),
                rate=rate,
                device=self._device_stats,
            )

    def wait(self, timeout: float | None = None) -> bool:
        """True once the device has ended (or something failed)."""
        return self.ended.wait(timeout)

    def stop(self, timeout: float = 60.0) -> Progress:
        """Stop the device, send what was read, and answer the final counts. Raises what
        failed (the device, or sending), once everything else is done."""
        self.device.interrupt()
        self._reader.join(timeout)
        self._sender.join(timeout)
        if self.error is not None:
            raise self.error
        return self.progress()
