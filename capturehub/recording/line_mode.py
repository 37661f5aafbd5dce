"""Line-oriented devices: one reading per line, values separated by ``,``, tabs or spaces.

This is what Edge Impulse's data forwarder reads from a serial port (``Serial.println`` of
``ax, ay, az`` in a loop). Such a device announces nothing: the number of values per line and
the rate are found by listening (:func:`detect_shape`), about a second, as the forwarder does.
No I/O here; :mod:`capturehub.recording.devices` feeds the bytes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

Value = int | float
Row = list[Value]

SEPARATORS = re.compile(r"[,\t ]+")
# Below this rate a second of listening sees too few lines to tell a rate from jitter.
MIN_DETECTED_RATE = 2.0


def parse_line(line: str) -> Row | None:
    """The values of one line, or None when it is not a line of numbers (a boot message, a
    log line). Integers stay integers, so ``12`` comes back as ``12``, not ``12.0``."""
    text = line.strip()
    if not text:
        return None
    values: Row = []
    for token in SEPARATORS.split(text.strip(", \t")):
        try:
            values.append(int(token))
        except ValueError:
            try:
                number = float(token)
            except ValueError:
                return None
            if number != number or number in (float("inf"), float("-inf")):
                return None  # nan/inf: not a reading
            values.append(number)
    return values or None


@dataclass
class LineStats:
    rows: int = 0
    bad_lines: int = 0  # not numbers, or not as many values as the other lines


@dataclass
class LineDecoder:
    """Bytes in, rows out; a line split across reads waits for its end. Once ``columns`` is
    set, a line with another number of values is counted as bad and left out."""

    columns: int | None = None
    stats: LineStats = field(default_factory=LineStats)
    skip_first_line: bool = False
    _pending: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes | bytearray) -> list[Row]:
        self._pending += data
        *lines, rest = self._pending.split(b"\n")
        self._pending = bytearray(rest)
        rows: list[Row] = []
        for raw in lines:
            if self.skip_first_line:
                # Opened in the middle of a line: its start was never read.
                self.skip_first_line = False
                continue
            row = parse_line(raw.decode("utf-8", errors="replace"))
            if row is None:
                if raw.strip():
                    self.stats.bad_lines += 1
                continue
            if self.columns is not None and len(row) != self.columns:
                self.stats.bad_lines += 1
                continue
            rows.append(row)
        self.stats.rows += len(rows)
        return rows


class DetectionError(ValueError):
    """Listening did not tell the shape of the stream; the message says what to pass."""


def detect_shape(arrivals: Sequence[tuple[float, Row]], seconds: float) -> tuple[int, float]:
    """``(columns, rate)`` from the rows heard while listening ``seconds``, each with the
    monotonic time it arrived.

    The number of columns is the most common row length. The rate is the number of rows that
    arrived after the first read over the time from it to the last (rows arrive in bursts
    through USB and OS buffers, so counting beats timing single gaps, and the first read may
    hold a backlog), rounded to a whole number of hertz above 10 Hz, where
    a second of listening cannot resolve fractions anyway; give ``--rate`` for an exact one.
    """
    if not arrivals:
        raise DetectionError(
            f"no line of numbers arrived in {seconds:g} s; check the port and baud rate"
        )
    columns = Counter(len(row) for _, row in arrivals).most_common(1)[0][0]
    first = arrivals[0][0]
    span = arrivals[-1][0] - first
    # Lines that arrived with the first (in the same read) may have waited in a buffer
    # since before the port was opened: the rate is what arrived after them, over the time.
    count = sum(1 for at, _ in arrivals if at > first)
    if count < 2 or span <= 0:
        raise DetectionError(
            f"only {len(arrivals)} line(s) in {seconds:g} s: too slow to measure its rate "
            f"(more than {MIN_DETECTED_RATE:g} Hz needed); give the rate with --rate"
        )
    rate = count / span
    if rate <= MIN_DETECTED_RATE:
        raise DetectionError(
            f"the device sends about {rate:.2g} lines per second, too slow to measure "
            f"(more than {MIN_DETECTED_RATE:g} Hz needed); give the rate with --rate"
        )
    return columns, float(round(rate)) if rate >= 10 else round(rate, 1)
