"""A recording's samples: checking a batch's values, packing them for the database, and
turning the stored batches back into rows (for reads while recording) or into the canonical
original (CSV or WAV) when it stops. No database or web code here."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Rows = npt.NDArray[np.float64]

INT16_MIN, INT16_MAX = -32768, 32767
# One batch's rows at most (an HTTP body is capped lower by max_request_body_bytes anyway).
MAX_BATCH_ROWS = 1_000_000


class BatchProblem(ValueError):
    """Why a batch's values cannot be stored, in words the sender can act on."""


@dataclass(frozen=True)
class Layout:
    """What every row of one recording looks like."""

    channels: tuple[str, ...]
    kind: str  # "sensor" or "audio"

    @property
    def columns(self) -> list[str]:
        """The column names of the capture's samples (a WAV names its channels itself)."""
        if self.kind == "audio":
            return [f"channel_{index}" for index in range(len(self.channels))]
        return list(self.channels)


def checked_rows(values: Any, layout: Layout) -> Rows:
    """``values`` (rows of numbers) as a float64 matrix, or :class:`BatchProblem`."""
    width = len(layout.channels)
    if isinstance(values, np.ndarray):
        rows = _checked_array(values, width)
    else:
        rows = _checked_lists(values, layout)
    if rows.shape[0] == 0:
        raise BatchProblem("the batch holds no rows; send at least one row of values")
    if rows.shape[0] > MAX_BATCH_ROWS:
        raise BatchProblem(f"the batch holds {rows.shape[0]} rows; send at most {MAX_BATCH_ROWS}")
    bad = ~np.isfinite(rows)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise BatchProblem(
            f"row {row + 1}, channel {layout.channels[column]!r} is {rows[row, column]!r}; "
            "values must be finite numbers"
        )
    if layout.kind == "audio":
        outside = (rows < INT16_MIN) | (rows > INT16_MAX) | (rows != np.round(rows))
        if outside.any():
            row, column = (int(i) for i in np.argwhere(outside)[0])
            raise BatchProblem(
                f"row {row + 1}, channel {layout.channels[column]!r} is "
                f"{rows[row, column]!r}; an audio recording takes 16-bit samples, integers "
                f"from {INT16_MIN} to {INT16_MAX}"
            )
    return rows


def _checked_array(values: npt.NDArray[Any], width: int) -> Rows:
    if values.ndim != 2 or values.shape[1] != width:
        raise BatchProblem(
            f"the batch's array has shape {values.shape}; expected (rows, {width}) for "
            f"{width} channels"
        )
    if values.dtype.kind not in "iuf":
        raise BatchProblem(f"the batch's array holds {values.dtype}, not numbers")
    return np.ascontiguousarray(values, dtype=np.float64)


def _checked_lists(values: Any, layout: Layout) -> Rows:
    width = len(layout.channels)
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise BatchProblem("values must be a list of rows, each a list of numbers")
    for index, row in enumerate(values):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise BatchProblem(f"row {index + 1} is not a list of numbers")
        if len(row) != width:
            raise BatchProblem(
                f"row {index + 1} has {len(row)} values; this recording has {width} channels "
                f"({', '.join(layout.channels)})"
            )
        for column, value in enumerate(row):
            # bool is an int to Python, but a true/false is no sample.
            if type(value) is not float and (type(value) is not int):
                shown = repr(value)
                if len(shown) > 40:
                    shown = shown[:40] + "…"
                raise BatchProblem(
                    f"row {index + 1}, channel {layout.channels[column]!r} is {shown} "
                    f"({type(value).__name__}), not a number"
                )
    try:
        return np.array(values, dtype=np.float64).reshape(len(values), width)
    except OverflowError:
        raise BatchProblem("a value is too large for a 64-bit float") from None


def pack(rows: Rows) -> bytes:
    """How a batch is kept in the database: little-endian float64, row after row."""
    return rows.astype("<f8", copy=False).tobytes()


def unpack(data: bytes, width: int) -> Rows:
    return np.frombuffer(data, dtype="<f8").reshape(-1, width)


def table_of(rows: Rows, layout: Layout) -> pa.Table:
    """Rows as the table the processed capture's columnar copy will hold: float64 channels
    for a sensor recording (its CSV's values are floats), int16 ``channel_N`` for audio."""
    columns = layout.columns
    if layout.kind == "audio":
        arrays = [pa.array(rows[:, i].astype(np.int16)) for i in range(len(columns))]
    else:
        arrays = [pa.array(np.ascontiguousarray(rows[:, i])) for i in range(len(columns))]
    return pa.Table.from_arrays(arrays, names=columns)


class Original:
    """The canonical original, written in chunks, counted and hashed as it goes."""

    def __init__(self) -> None:
        self.size = 0
        self._hash = hashlib.sha256()

    def counted(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.size += len(chunk)
            self._hash.update(chunk)
            yield chunk

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def csv_chunks(layout: Layout, batches: Iterable[Rows]) -> Iterator[bytes]:
    """The canonical CSV: a header of the channel names, then one line per row, each value
    written as Python writes a float (the shortest text that reads back as the same float64,
    ``1.0``, ``-0.5``, ``1e-07``), separated by commas, lines ended by ``\\n``."""
    yield (",".join(layout.channels) + "\n").encode()
    for rows in batches:
        if rows.shape[0]:
            lines = "\n".join(",".join(map(repr, row)) for row in rows.tolist())
            yield (lines + "\n").encode()


def wav_chunks(
    layout: Layout, sample_rate: float, samples: int, batches: Iterable[Rows]
) -> Iterator[bytes]:
    """The canonical WAV: 16-bit PCM, little-endian, the channels interleaved; the header's
    rate is the recording's rounded to whole hertz (the capture keeps the exact rate)."""
    channels = len(layout.channels)
    rate = max(1, round(sample_rate))
    data_bytes = samples * channels * 2
    yield struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        channels,
        rate,
        rate * channels * 2,
        channels * 2,
        16,
        b"data",
        data_bytes,
    )
    for rows in batches:
        yield rows.astype("<i2").tobytes()
