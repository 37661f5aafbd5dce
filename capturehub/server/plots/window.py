"""What the plot of a capture shows between two sample indices, at a given number of buckets.

Small windows are answered with the samples themselves. Larger ones with the minimum and
maximum of each channel in each bucket (never an average or LTTB's chosen points): a
one-sample spike is the minimum or maximum of its bucket, so it shows at every zoom.

Buckets are read from the coarsest level of the capture's min/max pyramid (pyramid.py) whose
buckets are no wider than the requested ones, or, when there is no such level (no pyramid
yet, or a window only a few samples per bucket wide), computed from the columnar copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.ipc

from capturehub.server.plots.arrow_blobs import (
    BatchIndex,
    batch_index,
    open_arrow_file,
    read_row_range,
)
from capturehub.storage import BlobStore

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.int64]

# Columns of the columnar copy that are not channels (ingest/columnar.py names them so).
NOT_CHANNELS = frozenset({"sequence", "timestamp"})


class WindowError(ValueError):
    """A request parameter that cannot be answered; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass
class PlotWindow:
    start: int
    end: int
    total: int
    channels: list[str]
    resolution: str  # "raw" or "buckets"
    index: Indices
    values: list[npt.NDArray[np.generic]] = field(default_factory=list)
    minimum: list[Floats] = field(default_factory=list)
    maximum: list[Floats] = field(default_factory=list)
    # The pyramid level's bucket size the buckets were made of; None: from the samples.
    level: int | None = None


def channels_of(schema: pa.Schema) -> list[str]:
    return [name for name in schema.names if name not in NOT_CHANNELS]


def choose_channels(available: list[str], requested: str | None) -> list[str]:
    if requested is None or not requested.strip():
        return available
    wanted = [name.strip() for name in requested.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise WindowError(
            "channels",
            f"The capture has no channel named {', '.join(map(repr, unknown))}; its channels "
            f"are {', '.join(available)}.",
        )
    return list(dict.fromkeys(wanted))


def clip_window(start: int | None, end: int | None, total: int) -> tuple[int, int]:
    first = min(max(start or 0, 0), total)
    last = total if end is None else min(max(end, 0), total)
    if last < first:
        raise WindowError("end", f"end ({end}) must not be before start ({start}).")
    return first, last


def even_edges(start: int, end: int, buckets: int) -> Indices:
    """``buckets + 1`` edges cutting ``[start, end)`` into buckets whose widths differ by one
    at most."""
    width = end - start
    return start + (np.arange(buckets + 1, dtype=np.int64) * width) // buckets


def bucket_extremes(values: npt.NDArray[np.generic], offsets: Indices) -> tuple[Floats, Floats]:
    """Minimum and maximum of ``values[offsets[i]:offsets[i + 1]]`` (the last to the end),
    NaN ignored (NaN only for a bucket of NaN). Every bucket must hold a value."""
    as_float = values.astype(np.float64, copy=False)
    return np.fmin.reduceat(as_float, offsets), np.fmax.reduceat(as_float, offsets)


def columnar_window(
    blobs: BlobStore,
    columnar_key: str,
    *,
    start: int | None,
    end: int | None,
    buckets: int,
    channels: str | None,
    pyramid: PyramidSource | None = None,
) -> PlotWindow:
    reader = open_arrow_file(blobs, columnar_key)
    rows = batch_index(columnar_key, reader)
    available = channels_of(reader.schema)
    chosen = choose_channels(available, channels)
    first, last = clip_window(start, end, rows.rows)
    window = PlotWindow(
        start=first,
        end=last,
        total=rows.rows,
        channels=chosen,
        resolution="raw",
        index=np.arange(first, last, dtype=np.int64),
    )
    if last - first <= buckets:
        table = read_row_range(reader, rows, first, last, chosen)
        window.values = [table.column(name).to_numpy() for name in chosen]
        return window
    window.resolution = "buckets"
    if pyramid is not None and pyramid.fill(window, buckets, _RawRows(reader, rows)):
        return window
    edges = even_edges(first, last, buckets)
    table = read_row_range(reader, rows, first, last, chosen)
    offsets = edges[:-1] - first
    for name in chosen:
        low, high = bucket_extremes(table.column(name).to_numpy(), offsets)
        window.minimum.append(low)
        window.maximum.append(high)
    window.index = edges[:-1]
    return window


@dataclass
class _RawRows:
    """The columnar copy, for the few samples a pyramid level does not cover."""

    reader: pyarrow.ipc.RecordBatchFileReader
    rows: BatchIndex

    def extremes(self, start: int, end: int, channels: list[str]) -> tuple[Floats, Floats]:
        table = read_row_range(self.reader, self.rows, start, end, channels)
        zero = np.zeros(1, dtype=np.int64)
        lows, highs = [], []
        for name in channels:
            low, high = bucket_extremes(table.column(name).to_numpy(), zero)
            lows.append(low[0])
            highs.append(high[0])
        return np.array(lows, dtype=np.float64), np.array(highs, dtype=np.float64)


class PyramidSource:
    """Filled in by pyramid.py."""

    def fill(self, window: PlotWindow, buckets: int, raw: _RawRows) -> bool:
        raise NotImplementedError
