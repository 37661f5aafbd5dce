"""Measuring a CSV capture in bounded memory and at close to the disk's speed.

How: the file is cut into blocks of whole lines (``BLOCK_BYTES``, which is also the longest
line accepted, so a file with no newline cannot make us read it whole). Each block is parsed by
``pyarrow.csv.read_csv`` with explicit column types on a small thread pool and summarised
there (numpy releases the GIL); the calling thread merges the summaries and appends each block
to the columnar copy in file order. At most ``workers + 1`` blocks are in flight, so memory is a
few blocks whatever the file size.

Why not ``pyarrow.csv.open_csv``: its streaming reader parses one block at a time on one core
(measured here: 0.6 s to parse an 85 MB, 1.5 M-row file, against 0.25 s for blocks parsed by
two threads), and its errors carry no row number. Parsing independent blocks ourselves gives
both the speed and the exact line of any error.

Types: the first (smaller) block is parsed with pyarrow's inference; a channel column that is
all integers there becomes ``int64``, any other numeric column ``float64``, and later blocks are
held to those types. If a later block holds a fraction in an ``int64`` column the pass starts
again with that column as ``float64`` (rare, and it keeps ``int`` exact for integer columns).

Empty cells: an empty channel cell is a missing sample and reads as NaN, as pandas reads it
(tables that merge sensors sampled at different rates are full of them). pyarrow parses it as
null; the block's channel columns are then filled with NaN by ``pyarrow.compute.fill_null``
(no per-cell Python) and counted in the channel's ``nan_count``. An integer column cannot hold
NaN, so an empty cell in one widens it to ``float64`` like a fraction does. A channel with no
value on any row is refused, and so is an empty ``sequence`` or ``timestamp`` cell: a row
without its index or time cannot be placed.

Errors: when pyarrow refuses a block, the block (still in memory) is bisected by lines until the
first bad line is found, and that line alone is parsed again to say which column and value are
wrong, so every message carries the file's 1-based line number (header = line 1).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import os
import re
import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from capturehub.ingest.columnar import ColumnarWriter
from capturehub.ingest.errors import IngestError, show_value
from capturehub.ingest.measurement import Measurement
from capturehub.ingest.rate import TIMESTAMP_PREFIX, sample_rate_from_times
from capturehub.ingest.sniff import (
    _DATE_TIME,
    NUMBER,
    SEQUENCE,
    TIMESTAMP,
    CsvLayout,
    sniff_csv,
)
from capturehub.ingest.stats import RunningStatistics, typical_values

BLOCK_BYTES = 2 << 20  # 2 MiB: ~65 MB peak for any file size; larger blocks gain no speed
FIRST_BLOCK_BYTES = 512 << 10  # type inference is slower: infer on a smaller first block
WORKERS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2))

_EXPECTED_COLUMNS = re.compile(r"Expected (\d+) columns?, got (\d+)")
_BAD_COLUMN = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to ([^:]+):")


@dataclass
class _Block:
    data: memoryview  # whole lines
    offset: int  # byte offset in the file
    source: Path

    @property
    def first_line(self) -> int:
        return _line_number(self.source, self.offset)


@dataclass
class _Plan:
    """What every block is parsed into, fixed after the first block."""

    layout: CsvLayout
    types: dict[str, pa.DataType]
    output_schema: pa.Schema
    channels: list[int]  # column indices of channel columns
    shift: npt.NDArray[np.float64]  # per channel, for accurate statistics (see stats.py)


@dataclass
class _BlockSummary:
    table: pa.Table
    statistics: RunningStatistics
    max_sequence: int | None
    empty_cells: npt.NDArray[np.int64]  # per channel
    times: npt.NDArray[np.float64] | npt.NDArray[np.int64] | None = field(default=None)


class _EmptyKeyCell(pa.ArrowInvalid):
    """An empty ``sequence`` or ``timestamp`` cell, worded as pyarrow words a bad cell.

    Raised from ``_parse`` so that the usual diagnosis (bisect the block, re-parse the line,
    quote the cell) finds and names it like any other unreadable value.
    """

    def __init__(self, index: int, type: pa.DataType) -> None:
        super().__init__(f"In CSV column #{index}: CSV conversion error to {type}: empty cell")


class _WidenToFloat(Exception):
    def __init__(self, columns: list[str]) -> None:
        super().__init__(columns)
        self.columns = columns


def measure_csv(source: Path, columnar_out: Path | None) -> Measurement:
    with open(source, "rb") as file:
        head = file.read(BLOCK_BYTES)
        at_eof = not file.read(1)
    layout = sniff_csv(head, at_eof=at_eof, line_limit=BLOCK_BYTES)
    floats: set[str] = set()
    # Each restart turns at least one more int column into float, so this ends.
    for _attempt in range(len(layout.names) + 1):
        try:
            return _measure_pass(source, layout, floats, columnar_out)
        except _WidenToFloat as widen:
            floats.update(widen.columns)
    raise AssertionError("unreachable: every restart widens a column")


def _measure_pass(
    source: Path, layout: CsvLayout, floats: set[str], columnar_out: Path | None
) -> Measurement:
    forced: dict[str, pa.DataType] = {name: pa.float64() for name in floats}
    if layout.timestamp is not None and layout.timestamp_type is not None:
        forced[layout.names[layout.timestamp]] = layout.timestamp_type
    with open(source, "rb") as file:
        blocks = _blocks(file, layout.data_offset, source)
        first = next(blocks, None)
        if first is None:
            raise _no_rows()
        try:
            table = _parse(first.data, layout, forced)
        except pa.ArrowInvalid as error:
            raise _explain(first, layout, _checking_types(layout), error) from None
        plan = _plan(layout, table, first)
        writer = ColumnarWriter(columnar_out, plan.output_schema) if columnar_out else None
        try:
            totals = _Totals(plan)
            with contextlib.closing(_summaries(blocks, plan)) as rest:
                for summary in itertools.chain([_summarise(table, plan)], rest):
                    totals.add(summary)
                    if writer:
                        writer.write(summary.table)
            if totals.rows == 0:
                raise _no_rows()
            totals.refuse_empty_channels()
            if writer:
                writer.commit()
        finally:
            if writer:
                writer.abort()
    return totals.measurement()


def _no_rows() -> IngestError:
    return IngestError("the file has a header (line 1) but no data rows")


def _blocks(file: io.BufferedReader, offset: int, source: Path) -> Iterator[_Block]:
    """Whole-line blocks of the file from ``offset``; the first is smaller (inference is slow).

    Blocks are read into a ring of reused buffers: fresh block-sized allocations cost a page fault
    per 4 KiB, which measurably slowed a 1 GB/s pipeline. A buffer is reused only after its
    block was consumed, as at most ``WORKERS + 1`` blocks are in flight.

    A buffer holds no more than the whole file (plus the byte that shows its end): zeroing
    ``WORKERS + 2`` blocks of 2 MiB cost ~7 ms per file, most of the time a three-line CSV
    takes to measure (a request of 1,000 small files spent seconds on it).
    """
    capacity = min(BLOCK_BYTES, os.fstat(file.fileno()).st_size + 1)
    ring = [bytearray(capacity) for _ in range(WORKERS + 2)]
    size = FIRST_BLOCK_BYTES
    for turn in itertools.count():
        buffer = ring[turn % len(ring)]
        file.seek(offset)
        view = memoryview(buffer)[:size]
        length = file.readinto(view)
        if not length:
            return
        cut = length
        # A full view means more may follow (the view is shorter than a block only for a file
        # that fits it whole, and then the read stops short of it).
        if length == len(view):  # not at the end of the file: cut after the last newline
            cut = buffer.rfind(b"\n", 0, length) + 1
            if cut == 0 and size < BLOCK_BYTES:
                size = BLOCK_BYTES
                continue
            if cut == 0:
                raise IngestError.at(
                    f"the line is longer than the limit of {BLOCK_BYTES / (1 << 20):g} MiB "
                    "(is it missing its line breaks?)",
                    line=_line_number(source, offset),
                )
        yield _Block(memoryview(buffer)[:cut], offset, source)
        offset += cut
        size = BLOCK_BYTES


def _line_number(source: Path, offset: int) -> int:
    """The 1-based number of the line starting at byte ``offset`` (only errors need it)."""
    newlines = 0
    with open(source, "rb") as file:
        while offset > 0:
            data = file.read(min(BLOCK_BYTES, offset))
            if not data:
                break
            newlines += data.count(b"\n")
            offset -= len(data)
    return newlines + 1


def _parse(
    data: bytes | memoryview,
    layout: CsvLayout,
    types: dict[str, pa.DataType],
    include: list[str] | None = None,
) -> pa.Table:
    """Parse whole lines of data (no header) into a table; raises pyarrow.ArrowInvalid.

    An empty cell (``,,`` or ``""``, as pandas reads them) is null; nothing else is, and
    nothing is boolean, so ``NaN`` stays a float and a non-numeric cell fails. Raw cells
    (``pa.binary()``) are never null. An empty ``sequence`` or ``timestamp`` cell fails here
    like an unreadable one, so every error path locates it the same way.
    """
    table = pacsv.read_csv(
        pa.py_buffer(data),
        # One block per call (the blocks are already bounded); threads are ours, not pyarrow's.
        read_options=pacsv.ReadOptions(
            use_threads=False, block_size=max(len(data) + 1, 1 << 16), column_names=layout.names
        ),
        parse_options=pacsv.ParseOptions(delimiter=layout.delimiter),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            null_values=[""],
            true_values=[],
            false_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=True,
            decimal_point=layout.decimal_point,
            include_columns=include or [],
        ),
    )
    for index in (layout.sequence, layout.timestamp):
        if index is None or layout.names[index] not in table.column_names:
            continue
        column = table.column(layout.names[index])
        if column.null_count:
            raise _EmptyKeyCell(index, column.type)
    return table


def _checking_types(layout: CsvLayout) -> dict[str, pa.DataType]:
    """Types that accept every valid file: any number in a channel, integers in ``sequence``."""
    types = {name: pa.float64() for name in layout.names}
    if layout.sequence is not None:
        types[layout.names[layout.sequence]] = pa.int64()
    if layout.timestamp is not None and layout.timestamp_type is not None:
        types[layout.names[layout.timestamp]] = layout.timestamp_type
    return types


def _plan(layout: CsvLayout, first: pa.Table, block: _Block) -> _Plan:
    types: dict[str, pa.DataType] = {}
    for index, name in enumerate(layout.names):
        inferred = first.schema.field(index).type
        if index == layout.timestamp:
            types[name] = inferred
        elif first.num_rows == 0 or pa.types.is_null(inferred):
            # Nothing to infer from: the first block held only blank lines, or the channel is
            # empty so far (a sensor that starts late in a merged table).
            types[name] = pa.int64() if index == layout.sequence else pa.float64()
        elif pa.types.is_int64(inferred) and first.column(index).null_count:
            types[name] = pa.float64()  # its empty cells are NaN, which an int cannot hold
        elif pa.types.is_int64(inferred) or (
            pa.types.is_floating(inferred) and index != layout.sequence
        ):
            types[name] = inferred
        else:
            # Not numeric (text, dates, booleans): find and name the first bad cell.
            checking = _checking_types(layout)
            raise _explain(block, layout, checking, None)
    fields = []
    for index, name in enumerate(layout.names):
        out_name = {layout.sequence: SEQUENCE, layout.timestamp: TIMESTAMP}.get(index, name)
        fields.append(pa.field(out_name, types[name]))
    schema = pa.schema(fields, metadata={"capturehub.source_format": "csv"})
    channels = [i for i in range(len(layout.names)) if i not in (layout.sequence, layout.timestamp)]
    if not channels:
        raise IngestError.at(
            "the header names no channel: besides sequence and timestamp, at least one column "
            "of numbers is needed",
            line=1,
        )
    filled, _ = _fill_missing(first, layout, types, channels)
    shift = typical_values(_channel_matrix(filled, channels))
    return _Plan(layout, types, schema, channels, shift)


def _summaries(blocks: Iterator[_Block], plan: _Plan) -> Generator[_BlockSummary, None, None]:
    """Parse and summarise blocks in parallel, yielding the summaries in file order."""
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ingest-csv")
    pending: deque[tuple[_Block, Future[_BlockSummary]]] = deque()
    try:
        for block in blocks:
            pending.append((block, pool.submit(_parse_and_summarise, block.data, plan)))
            if len(pending) > WORKERS:
                yield _result(*pending.popleft(), plan)
        while pending:
            yield _result(*pending.popleft(), plan)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(block: _Block, future: Future[_BlockSummary], plan: _Plan) -> _BlockSummary:
    try:
        return future.result()
    except pa.ArrowInvalid as error:
        raise _diagnose(block, plan, error) from None


def _parse_and_summarise(data: memoryview, plan: _Plan) -> _BlockSummary:
    return _summarise(_parse(data, plan.layout, plan.types), plan)


def _fill_missing(
    table: pa.Table, layout: CsvLayout, types: dict[str, pa.DataType], channels: list[int]
) -> tuple[pa.Table, npt.NDArray[np.int64]]:
    """The table with its channels in their planned types and empty cells as NaN.

    Also returns how many cells of each channel were empty. Raises ``_WidenToFloat`` for an
    integer channel with an empty cell. A block without empty cells passes through untouched.
    """
    empty = np.zeros(len(channels), dtype=np.int64)
    widen = []
    for position, index in enumerate(channels):
        name = layout.names[index]
        column = table.column(index)
        wanted = types[name]
        if column.null_count and pa.types.is_integer(wanted):
            widen.append(name)
            continue
        if column.null_count == 0 and column.type == wanted:
            continue
        # The first block can hold an int (or all-empty) column that the plan made float.
        column = column.cast(wanted)
        empty[position] = column.null_count
        if column.null_count:
            column = pc.fill_null(column, math.nan)
        table = table.set_column(index, name, column)
    if widen:
        raise _WidenToFloat(widen)
    return table, empty


def _summarise(table: pa.Table, plan: _Plan) -> _BlockSummary:
    layout = plan.layout
    table, empty_cells = _fill_missing(table, layout, plan.types, plan.channels)
    matrix = _channel_matrix(table, plan.channels)
    names = [layout.names[i] for i in plan.channels]
    statistics = RunningStatistics.of_block(
        names, matrix, shift=plan.shift, workspace=_workspace("spare", matrix.shape)
    )
    max_sequence = None
    if layout.sequence is not None and table.num_rows:
        max_sequence = int(np.max(table.column(layout.sequence).to_numpy()))
    times = None
    if layout.timestamp is not None:
        column = table.column(layout.timestamp)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        times = column.to_numpy()
    out = table.rename_columns(plan.output_schema.names).replace_schema_metadata(
        plan.output_schema.metadata
    )
    return _BlockSummary(out, statistics, max_sequence, empty_cells, times)


_WORKSPACES = threading.local()


def _channel_matrix(table: pa.Table, channels: list[int]) -> npt.NDArray[np.float64]:
    """The channel columns as rows of one float64 matrix (this thread's reused scratch)."""
    matrix = _workspace("matrix", (len(channels), table.num_rows))
    for row, index in enumerate(channels):
        matrix[row] = table.column(index).to_numpy()
    return matrix


def _workspace(name: str, shape: tuple[int, int]) -> npt.NDArray[np.float64]:
    """A float64 scratch matrix reused by this thread (fresh memory would page-fault)."""
    size = shape[0] * shape[1]
    buffer: npt.NDArray[np.float64] | None = getattr(_WORKSPACES, name, None)
    if buffer is None or buffer.size < size:
        buffer = np.empty(size, dtype=np.float64)
        setattr(_WORKSPACES, name, buffer)
    return buffer[:size].reshape(shape)


class _Totals:
    """The whole file's summary, merged block by block in file order."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.rows = 0
        names = [plan.layout.names[i] for i in plan.channels]
        self.statistics = RunningStatistics(names, shift=plan.shift)
        self.max_sequence: int | None = None
        self.empty_cells = np.zeros(len(plan.channels), dtype=np.int64)
        self.times: list[npt.NDArray[np.float64] | npt.NDArray[np.int64]] = []
        self.kept_times = 0

    def add(self, summary: _BlockSummary) -> None:
        self.rows += summary.table.num_rows
        self.statistics.merge(summary.statistics)
        self.empty_cells += summary.empty_cells
        if summary.max_sequence is not None and (
            self.max_sequence is None or summary.max_sequence > self.max_sequence
        ):
            self.max_sequence = summary.max_sequence
        if summary.times is not None and self.kept_times <= TIMESTAMP_PREFIX:
            kept = summary.times[: TIMESTAMP_PREFIX + 1 - self.kept_times]
            self.times.append(kept)
            self.kept_times += len(kept)

    def refuse_empty_channels(self) -> None:
        """A channel without a value on any row is a mistake (a wrong export), not a recording."""
        names = [self.plan.layout.names[i] for i in self.plan.channels]
        empty = [
            name for name, count in zip(names, self.empty_cells, strict=True) if count == self.rows
        ]
        if not empty:
            return
        others = ", ".join(f'"{name}"' for name in empty[1:])
        also = ""
        if others:
            also = f" (so {'is column' if len(empty) == 2 else 'are columns'} {others})"
        raise IngestError.at(
            f"every one of its {self.rows} cells is empty{also}; remove the column, or fill in "
            "its values (an empty cell is a missing sample, but a channel needs at least one)",
            column=empty[0],
        )

    def measurement(self) -> Measurement:
        layout = self.plan.layout
        schema: dict[str, dict[str, str]] = {}
        for index, name in enumerate(layout.names):
            if index == layout.timestamp:
                continue
            kind = "int" if pa.types.is_integer(self.plan.types[name]) else "float"
            schema[SEQUENCE if index == layout.sequence else name] = {"type": kind}
        rate = None
        if self.times:
            times = np.concatenate(self.times)
            ts_type = layout.timestamp_type
            scale = 1e-9 if ts_type is not None and pa.types.is_timestamp(ts_type) else 1.0
            rate = sample_rate_from_times(times, seconds_per_unit=scale)
        channels = [layout.names[i] for i in self.plan.channels]
        return Measurement(
            number_samples=self.rows,
            max_sequence=self.max_sequence if self.max_sequence is not None else self.rows - 1,
            schema=schema,
            calculated_sample_rate=rate,
            header_sample_rate=None,
            statistics=self.statistics.result(),
            channels=channels,
        )


# Errors -------------------------------------------------------------------------------------


def _diagnose(block: _Block, plan: _Plan, error: pa.ArrowInvalid) -> Exception:
    """Turn pyarrow's refusal of a block into a widening restart or a located IngestError."""
    layout = plan.layout
    found = None if isinstance(error, _EmptyKeyCell) else _BAD_COLUMN.search(str(error))
    ints = [
        layout.names[i] for i in plan.channels if pa.types.is_integer(plan.types[layout.names[i]])
    ]
    if found and found.group(2) == "int64" and ints:
        as_float = {name: pa.float64() for name in ints}
        try:
            _parse(block.data, layout, as_float, include=ints)
        except pa.ArrowInvalid:
            pass  # a real non-number somewhere: locate it below
        else:
            widen = []
            for name in ints:
                try:
                    _parse(block.data, layout, {name: pa.int64()}, include=[name])
                except pa.ArrowInvalid:
                    widen.append(name)
            if widen:
                return _WidenToFloat(widen)
    return _explain(block, layout, _checking_types(layout), error)


def _explain(
    block: _Block, layout: CsvLayout, types: dict[str, pa.DataType], error: Exception | None
) -> IngestError:
    lines = _line_bounds(block.data)
    bad = _first_bad_line(block.data, lines, layout, types)
    first_line = block.first_line
    if bad is None:
        last = first_line + max(len(lines) - 1, 0)
        detail = str(error) if error else "a value could not be read"
        return IngestError(f"lines {first_line}-{last}: {detail}")
    start, end = lines[bad]
    return _explain_line(block.data[start:end], first_line + bad, layout, types)


def _line_bounds(data: memoryview) -> list[tuple[int, int]]:
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A) + 1
    bounds = ends.tolist()
    if not bounds or bounds[-1] != len(data):
        bounds.append(len(data))
    starts = [0, *bounds[:-1]]
    return list(zip(starts, bounds, strict=True))


def _first_bad_line(
    data: memoryview, lines: list[tuple[int, int]], layout: CsvLayout, types: dict[str, pa.DataType]
) -> int | None:
    """Index of the first line that does not parse (lines parse independently: bisect)."""

    def fails(low: int, high: int) -> bool:
        try:
            _parse(data[lines[low][0] : lines[high - 1][1]], layout, types)
        except pa.ArrowInvalid:
            return True
        return False

    low, high = 0, len(lines)
    if high == 0 or not fails(low, high):
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if fails(low, middle):
            high = middle
        else:
            low = middle
    return low


def _explain_line(
    text: memoryview, line: int, layout: CsvLayout, types: dict[str, pa.DataType]
) -> IngestError:
    try:
        _parse(text, layout, types)
    except pa.ArrowInvalid as error:
        message = str(error)
    else:  # pragma: no cover - the bisection only stops on a failing line
        return IngestError.at("this line could not be read", line=line)
    ragged = _EXPECTED_COLUMNS.search(message)
    if ragged:
        expected, got = int(ragged.group(1)), int(ragged.group(2))
        hint = " (the line is blank but for spaces)" if not bytes(text).strip() else ""
        return IngestError.at(
            f"the line has {got} field{'s' if got != 1 else ''}{hint}, expected {expected} "
            "like the header (line 1)",
            line=line,
        )
    found = _BAD_COLUMN.search(message)
    if not found:
        return IngestError.at(f"this line could not be read ({message})", line=line)
    index = int(found.group(1))
    name = layout.names[index]
    raw = _parse(text, layout, {name: pa.binary()}, include=[name]).column(0)[0].as_py()
    cell = raw.decode("utf-8", "backslashreplace")
    return IngestError.at(_why_not(cell, index, line, layout), line=line, column=name)


def _why_not(cell: str, index: int, line: int, layout: CsvLayout) -> str:
    shown = show_value(cell)
    if not cell and index == layout.timestamp:
        return "the cell is empty; every row needs its time (a row without one cannot be placed)"
    if not cell and index == layout.sequence:
        return (
            "the cell is empty; every row needs its sample index (a row without one cannot be "
            "placed)"
        )
    if index == layout.timestamp:
        if layout.timestamp_type is not None and not pa.types.is_timestamp(layout.timestamp_type):
            return f"{shown} is not a number of seconds, as the first row's timestamp is"
        offset = "with" if getattr(layout.timestamp_type, "tz", None) else "without"
        return (
            f"{shown} is not an ISO 8601 time in the first row's form ({offset} a UTC offset), "
            'e.g. "2024-05-01T12:00:00.250Z" or "2024-05-01 12:00:00.250"'
        )
    if index == layout.sequence:
        return f"{shown} is not a whole number: the sequence column holds integer sample indices"
    if not cell.strip():
        # An empty cell is a missing sample; spaces alone are more likely a mistake.
        return (
            f"{shown} holds only spaces; expected a number (leave the cell empty for a missing "
            "sample)"
        )
    hints = []
    if layout.decimal_point == "." and re.fullmatch(r"\s*[-+]?\d*,\d+\s*", cell):
        hints.append("use a decimal point (1.5), not a decimal comma")
    if _DATE_TIME.fullmatch(cell):
        hints.append('a column of times must be named "timestamp"')
    if line == 2 and not NUMBER.fullmatch(cell):
        hints.append(
            "line 1 must be the header and the data must start on line 2: remove any preamble "
            "(such as device information) above them"
        )
    suffix = f" ({'; '.join(hints)})" if hints else ""
    return f"{shown} is not a number{suffix}"
