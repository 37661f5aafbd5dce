"""The min/max pyramid of a capture: each channel's minimum and maximum per bucket, at bucket
widths of 32, 128, 512, ... samples (each level 4× the one below, up to one bucket).

Why these numbers: the window route reads the coarsest level whose buckets are no wider than
the requested ones, so it never reduces more than 4 level rows per requested bucket (16,000
rows for 4,000 buckets, whatever the capture's length), and below the first level (windows of
fewer than 32 samples per bucket) it reads at most 32 samples per bucket from the columnar
copy (128,000 rows for 4,000 buckets; with a first level of 64 such windows took 3× longer
than those read from a level, docs/performance.md). The pyramid holds two values per 32
samples and a third more for the coarser levels, 2/32 × 4/3 ≈ 8.3% of the columnar copy
(values keep their channel's type, an int16 channel stays int16), within the 25% allowed; a
first level of 16 would be 17% for windows that the columnar copy answers quickly anyway.

Bucket ``i`` of a level of width ``b`` covers samples ``[i·b, min((i+1)·b, total))``. NaN is
left out (``fmin``/``fmax``); a bucket of NaN only is NaN. Minimum and maximum, never averages,
so a one-sample spike is the maximum (or minimum) of its bucket at every level.

Format: an Arrow IPC file (as the columnar copy, so it is memory-mapped on local disk and read
by byte ranges from an object store), two columns per channel (``min:<name>``, ``max:<name>``),
the levels one after the other, each cut into record batches of 16,384 rows so that a window
reads one or two batches. The schema metadata ``capturehub.plot_pyramid`` (JSON) lists the
channels, the levels (bucket width and rows) and where each record batch of the columnar copy
starts, so the route finds its rows without scanning either file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.ipc

from capturehub.storage.arrow_blobs import BatchIndex, read_row_range

BASE_BUCKET = 32
FACTOR = 4
BATCH_ROWS = 16_384
METADATA_KEY = b"capturehub.plot_pyramid"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Level:
    bucket: int  # samples per bucket
    rows: int
    offset: int  # its first row among all levels' rows in the file


@dataclass(frozen=True)
class PyramidLayout:
    total: int  # samples of the capture
    channels: list[str]
    levels: list[Level]
    columnar_batch_starts: list[int]

    def level_for(self, width: float) -> Level | None:
        """The coarsest level whose buckets are no wider than ``width`` samples."""
        fitting = [level for level in self.levels if level.bucket <= width]
        return fitting[-1] if fitting else None

    def batch_index(self) -> BatchIndex:
        starts: list[int] = []
        for level in self.levels:
            starts.extend(range(level.offset, level.offset + level.rows, BATCH_ROWS))
        end = self.levels[-1].offset + self.levels[-1].rows if self.levels else 0
        return BatchIndex(np.array([*starts, end], dtype=np.int64))

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": FORMAT_VERSION,
                "total": self.total,
                "channels": self.channels,
                "base_bucket": BASE_BUCKET,
                "factor": FACTOR,
                "batch_rows": BATCH_ROWS,
                "levels": [{"bucket": level.bucket, "rows": level.rows} for level in self.levels],
                "columnar_batch_starts": self.columnar_batch_starts,
            }
        ).encode()

    @classmethod
    def of(cls, schema: pa.Schema) -> PyramidLayout:
        meta: dict[str, Any] = json.loads((schema.metadata or {})[METADATA_KEY])
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"unknown plot pyramid version {meta.get('version')!r}")
        levels, offset = [], 0
        for level in meta["levels"]:
            levels.append(Level(bucket=level["bucket"], rows=level["rows"], offset=offset))
            offset += level["rows"]
        return cls(
            total=meta["total"],
            channels=meta["channels"],
            levels=levels,
            columnar_batch_starts=meta["columnar_batch_starts"],
        )


def min_column(channel: str) -> str:
    return f"min:{channel}"


def max_column(channel: str) -> str:
    return f"max:{channel}"


def _extremes(values: npt.NDArray[Any], bucket: int) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """(minimum, maximum) of each run of ``bucket`` values (the last may be shorter), NaN
    left out. ``minimum``/``maximum`` are twice as fast as ``fmin``/``fmax`` but keep NaN, so
    the NaN-aware pair runs only when a bucket came out NaN."""
    starts = np.arange(0, len(values), bucket)
    low, high = np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)
    if values.dtype.kind == "f" and (np.isnan(low).any() or np.isnan(high).any()):
        low, high = np.fmin.reduceat(values, starts), np.fmax.reduceat(values, starts)
    return low, high


def _coarser_levels(
    low: npt.NDArray[Any], high: npt.NDArray[Any]
) -> list[tuple[npt.NDArray[Any], npt.NDArray[Any]]]:
    """Every level from the finest one up, finest first."""
    levels = [(low, high)]
    while len(low) > 1:
        starts = np.arange(0, len(low), FACTOR)
        # NaN only for buckets of NaN only: fmin/fmax leave them out of the coarser levels.
        low, high = np.fmin.reduceat(low, starts), np.fmax.reduceat(high, starts)
        levels.append((low, high))
    return levels


class _FinestLevel:
    """One channel's first level, fed record batch by record batch (read in place, never
    gathered into one array): values short of a whole bucket wait for the next batch."""

    def __init__(self) -> None:
        self.carry: npt.NDArray[Any] | None = None

    def feed(self, values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """The buckets these values complete (maybe none)."""
        if self.carry is not None and len(self.carry):
            values = np.concatenate([self.carry, values])
        whole = len(values) - len(values) % BASE_BUCKET
        self.carry = values[whole:].copy()  # a copy: the batch's memory may go
        return _extremes(values[:whole], BASE_BUCKET)

    def finish(self) -> list[tuple[npt.NDArray[Any], npt.NDArray[Any]]]:
        """The last, shorter bucket (none when the values ended on a bucket edge)."""
        values, self.carry = self.carry, None
        return [_extremes(values, BASE_BUCKET)] if values is not None and len(values) else []


def channel_levels(
    column: pa.ChunkedArray,
) -> list[tuple[npt.NDArray[Any], npt.NDArray[Any]]]:
    """(minimum, maximum) per bucket at every level, finest first."""
    finest = _FinestLevel()
    parts = [
        finest.feed(chunk.to_numpy(zero_copy_only=False)) for chunk in column.chunks if len(chunk)
    ]
    parts += finest.finish()
    if not parts:
        return []
    low = np.concatenate([part[0] for part in parts])
    return _coarser_levels(low, np.concatenate([part[1] for part in parts]))


def write_pyramid(columnar: pa.Table, channels: list[str], out: Path) -> PyramidLayout:
    """Compute the pyramid of ``columnar``'s ``channels`` and write it to ``out``."""
    batches = columnar.to_batches()
    starts = [0]
    for batch in batches:
        starts.append(starts[-1] + batch.num_rows)
    return write_pyramid_of_batches(columnar.schema, batches, starts, channels, out)


def _level_rows(total: int, channels: list[str]) -> list[int]:
    """Rows of each level for ``total`` samples, finest first (as :func:`channel_levels`)."""
    rows: list[int] = []
    count = -(-total // BASE_BUCKET) if channels else 0
    while count:
        rows.append(count)
        if count == 1:
            break
        count = -(-count // FACTOR)
    return rows


class _SecondLevel:
    """One channel's second level, fed the first level's buckets in order."""

    def __init__(self) -> None:
        self.lows: list[npt.NDArray[Any]] = []
        self.highs: list[npt.NDArray[Any]] = []
        self.carry: tuple[npt.NDArray[Any], npt.NDArray[Any]] | None = None

    def feed(self, low: npt.NDArray[Any], high: npt.NDArray[Any]) -> None:
        if self.carry is not None:
            low, high = np.concatenate([self.carry[0], low]), np.concatenate([self.carry[1], high])
        whole = len(low) - len(low) % FACTOR
        self._reduce(low[:whole], high[:whole])
        self.carry = (low[whole:].copy(), high[whole:].copy())

    def finish(self) -> None:
        """The last, shorter bucket."""
        if self.carry is not None:
            self._reduce(*self.carry)
            self.carry = None

    def _reduce(self, low: npt.NDArray[Any], high: npt.NDArray[Any]) -> None:
        if len(low):
            starts = np.arange(0, len(low), FACTOR)
            self.lows.append(np.fmin.reduceat(low, starts))
            self.highs.append(np.fmax.reduceat(high, starts))

    def levels(self) -> list[tuple[npt.NDArray[Any], npt.NDArray[Any]]]:
        if not self.lows:
            return []
        return _coarser_levels(np.concatenate(self.lows), np.concatenate(self.highs))


def write_pyramid_of_batches(
    columnar_schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    batch_starts: list[int],
    channels: list[str],
    out: Path,
) -> PyramidLayout:
    """The same from the columnar copy's record batches read one at a time (``batch_starts``:
    where each begins, and the row count last). The first level is written as its buckets
    come and only the coarser ones (a quarter of it, about 2% of the copy) are held until
    the end: memory stays small whatever the capture's length, and an object store's copy is
    read by ranges, not downloaded whole first."""
    total = batch_starts[-1]
    rows = _level_rows(total, channels)
    levels = [
        Level(bucket=BASE_BUCKET * FACTOR**number, rows=count, offset=sum(rows[:number]))
        for number, count in enumerate(rows)
    ]
    layout = PyramidLayout(total, list(channels), levels, list(batch_starts))
    fields: list[pa.Field] = []
    for name in channels:
        kind = columnar_schema.field(name).type
        fields += [pa.field(min_column(name), kind), pa.field(max_column(name), kind)]
    schema = pa.schema(fields, metadata={METADATA_KEY: layout.to_json()})
    finest = {name: _FinestLevel() for name in channels}
    second = {name: _SecondLevel() for name in channels}
    waiting: dict[str, list[tuple[npt.NDArray[Any], npt.NDArray[Any]]]] = {
        name: [] for name in channels
    }
    written = 0

    def write(
        writer: pyarrow.ipc.RecordBatchFileWriter,
        parts: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]],
    ) -> None:
        arrays: list[pa.Array] = []
        for low, high in parts:
            arrays += [pa.array(low), pa.array(high)]
        writer.write_batch(pa.record_batch(arrays, schema=schema))

    def flush(writer: pyarrow.ipc.RecordBatchFileWriter, everything: bool) -> None:
        nonlocal written
        joined = {
            name: (
                np.concatenate([low for low, _ in waiting[name]]),
                np.concatenate([high for _, high in waiting[name]]),
            )
            for name in channels
            if waiting[name]
        }
        if not joined:
            return
        ready = len(next(iter(joined.values()))[0])
        stop = ready if everything else ready - ready % BATCH_ROWS
        for first in range(0, stop, BATCH_ROWS):
            last = min(first + BATCH_ROWS, stop)
            write(writer, [(joined[n][0][first:last], joined[n][1][first:last]) for n in channels])
        written += stop
        for name in channels:
            low, high = joined[name]
            waiting[name] = [(low[stop:], high[stop:])] if stop < ready else []

    with pa.OSFile(str(out), "wb") as sink, pyarrow.ipc.new_file(sink, schema) as writer:
        for batch in batches:
            if batch.num_rows:
                for name in channels:
                    low, high = finest[name].feed(batch.column(name).to_numpy(zero_copy_only=False))
                    waiting[name].append((low, high))
                    second[name].feed(low, high)
            del batch
            if channels and sum(len(low) for low, _ in waiting[channels[0]]) >= BATCH_ROWS:
                flush(writer, everything=False)
        for name in channels:
            for low, high in finest[name].finish():
                waiting[name].append((low, high))
                second[name].feed(low, high)
            second[name].finish()

        flush(writer, everything=True)
        if written != (rows[0] if rows else 0):
            raise ValueError(f"the record batches do not hold the {total} rows announced")
        coarser = [second.pop(name).levels() for name in channels]
        for number, level in enumerate(levels[1:]):
            for first in range(0, level.rows, BATCH_ROWS):
                end = first + BATCH_ROWS
                write(writer, [(c[number][0][first:end], c[number][1][first:end]) for c in coarser])
    return layout


class Pyramid:
    """A stored pyramid, open for reading."""

    def __init__(self, reader: pyarrow.ipc.RecordBatchFileReader) -> None:
        self.reader = reader
        self.layout = PyramidLayout.of(reader.schema)
        self._index = self.layout.batch_index()

    def extremes(
        self, level: Level, first: int, last: int, channels: list[str]
    ) -> list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        """Rows ``[first, last)`` of ``level``: (minimum, maximum) per channel, as float64."""
        columns = [column for name in channels for column in (min_column(name), max_column(name))]
        table = read_row_range(
            self.reader, self._index, level.offset + first, level.offset + last, columns
        )
        return [
            (
                table.column(min_column(name)).to_numpy().astype(np.float64, copy=False),
                table.column(max_column(name)).to_numpy().astype(np.float64, copy=False),
            )
            for name in channels
        ]
