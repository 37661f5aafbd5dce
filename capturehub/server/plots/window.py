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

from capturehub.server.plots.pyramid import Pyramid
from capturehub.storage import BlobStore
from capturehub.storage.arrow_blobs import (
    BatchIndex,
    batch_index,
    open_arrow_file,
    read_row_range,
)

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
    pyramid: Pyramid | None = None,
) -> PlotWindow:
    reader = open_arrow_file(blobs, columnar_key)
    if pyramid is not None:  # it knows where the columnar copy's batches start
        rows = BatchIndex(np.array(pyramid.layout.columnar_batch_starts, dtype=np.int64))
    else:
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
        index=np.empty(0, dtype=np.int64),
    )
    if last - first <= buckets:
        window.index = np.arange(first, last, dtype=np.int64)
        table = read_row_range(reader, rows, first, last, chosen)
        window.values = [table.column(name).to_numpy() for name in chosen]
        return window
    window.resolution = "buckets"
    if pyramid is not None and _from_pyramid(window, buckets, pyramid, _RawRows(reader, rows)):
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


def table_window(
    table: pa.Table, *, start: int, total: int, buckets: int, channels: str | None
) -> PlotWindow:
    """The window of rows held in memory (``table`` holds rows ``[start, start + rows)``
    of a capture of ``total`` rows): a recording in progress, which has no columnar copy."""
    chosen = choose_channels(channels_of(table.schema), channels)
    last = start + table.num_rows
    window = PlotWindow(
        start=start,
        end=last,
        total=total,
        channels=chosen,
        resolution="raw",
        index=np.arange(start, last, dtype=np.int64),
    )
    if last - start <= buckets:
        window.values = [table.column(name).to_numpy() for name in chosen]
        return window
    window.resolution = "buckets"
    edges = even_edges(start, last, buckets)
    offsets = edges[:-1] - start
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


def _from_pyramid(window: PlotWindow, buckets: int, pyramid: Pyramid, raw: _RawRows) -> bool:
    """Fill ``window``'s buckets from the pyramid; False when no level fits (the caller then
    reads the samples).

    The inner bucket edges are rounded to the level's grid (multiples of its bucket width,
    which is at most the requested width, so the buckets stay distinct and of about equal
    width); the window's own ``start`` and ``end`` are kept exactly, the samples between
    them and the grid (fewer than a level bucket on each side) read from the columnar copy.
    Every bucket's min/max is therefore exactly that of its samples ``[index[i], index[i+1])``.
    """
    start, end = window.start, window.end
    layout = pyramid.layout
    if layout.total != window.total or any(c not in layout.channels for c in window.channels):
        return False  # not this copy's pyramid: never answer from it
    level = layout.level_for((end - start) / buckets)
    if level is None:
        return False
    width = level.bucket
    head_end = -(-start // width) * width  # the first grid edge at or after start
    tail_start = end if end == window.total else (end // width) * width
    steps = np.arange(1, buckets, dtype=np.int64)
    # start + k·(end-start)/buckets rounded to the nearest multiple of the width, in integers.
    numerators = 2 * (start * buckets + steps * (end - start)) + buckets * width
    inner = numerators // (2 * buckets * width) * width
    inner = np.clip(inner, head_end, tail_start)
    edges = np.concatenate([[start], inner, [end]]).astype(np.int64)
    if np.any(np.diff(edges) <= 0):
        return False  # cannot happen for width <= requested width; never answer wrongly
    # The part of each bucket the level covers, in level rows (grid edges, or the total,
    # whose row is the last partial bucket's end: a ceiling division gives both).
    covered_low = -(-np.maximum(edges[:-1], head_end) // width)
    covered_high = -(-np.minimum(edges[1:], tail_start) // width)
    first_row = -(-head_end // width)
    last_row = -(-tail_start // width)
    empty = covered_low >= covered_high
    # Only the first and last bucket can be empty (inner edges are distinct grid edges), so
    # the others' rows abut, the last of them ending at ``last_row``: one reduceat over the
    # non-empty buckets' first rows gives each its own rows.
    parts = []
    if last_row > first_row:
        parts = pyramid.extremes(level, int(first_row), int(last_row), window.channels)
    offsets = covered_low[~empty] - first_row
    head = raw.extremes(start, min(head_end, end), window.channels) if start < head_end else None
    tail = raw.extremes(max(tail_start, start), end, window.channels) if tail_start < end else None
    for position in range(len(window.channels)):
        low = np.full(buckets, np.nan)
        high = np.full(buckets, np.nan)
        if parts:
            low_level, high_level = parts[position]
            low[~empty] = np.fmin.reduceat(low_level, offsets)
            high[~empty] = np.fmax.reduceat(high_level, offsets)
        if head is not None:
            low[0] = np.fmin(low[0], head[0][position])
            high[0] = np.fmax(high[0], head[1][position])
        if tail is not None:
            low[-1] = np.fmin(low[-1], tail[0][position])
            high[-1] = np.fmax(high[-1], tail[1][position])
        window.minimum.append(low)
        window.maximum.append(high)
    window.index = edges[:-1]
    window.level = width
    return True
