"""The columnar copy of a capture: an Arrow IPC *file*, written once, then read by slices.

Why this format: the IPC file format has a footer indexing its record batches, so a reader
memory-maps the file and reaches rows ``[start, end)`` without parsing or copying anything else;
readers in any Arrow language (pandas, polars, DuckDB, R) open it directly.

Why no compression: LZ4/ZSTD buffers must be decompressed into fresh memory on every read,
which defeats memory-mapping (a slice would no longer be zero-copy) and costs CPU on the hot
read path, while sensor samples compress poorly anyway (float noise). Disk is the cheap side.

Layout: one record batch per parsed block (tens of thousands of rows), the capture's columns
in file order; ``sequence`` (int64) and ``timestamp`` (timestamp[ns] or float64 seconds) keep
those lower-case names whatever the CSV header's case. The schema metadata holds
``capturehub.source_format`` (``csv`` or ``wav``) and, for WAV, ``capturehub.sample_rate``.

Durability: the copy is written under a temporary name beside the target, fsynced, renamed
over the target (atomic on POSIX) and the directory fsynced, so a reader sees either the old
file or the complete new one, never a torn one, even across a crash.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.ipc

from capturehub._columnar import read_rows
from capturehub.ingest.errors import IngestError

COLUMNAR_MEDIA_TYPE = "application/vnd.apache.arrow.file"


# Every record batch but the last holds this many rows, and the schema metadata says so
# (BATCH_ROWS_KEY): a reader finds the batch holding row i as i // BATCH_ROWS without reading
# the batches before it (the file's footer locates batches by bytes, not rows), which is what
# lets a slice of a copy in an object store fetch only its own batches. About 3 MB for six
# float64 channels. Copies written before have no such key; readers then count rows.
BATCH_ROWS = 65_536
BATCH_ROWS_KEY = b"capturehub.batch_rows"


class ColumnarWriter:
    """Writes record batches of :data:`BATCH_ROWS` rows to a temporary file and publishes it
    atomically on ``commit``."""

    def __init__(self, target: Path, schema: pa.Schema) -> None:
        self.target = target
        self.temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        self._sink = pa.OSFile(str(self.temporary), "wb")
        metadata = dict(schema.metadata or {})
        metadata[BATCH_ROWS_KEY] = str(BATCH_ROWS).encode()
        self.schema = schema.with_metadata(metadata)
        self._writer = pyarrow.ipc.new_file(self._sink, self.schema)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._open = True

    def write(self, table: pa.Table) -> None:
        """Queue the rows; every full batch of BATCH_ROWS is written at once (memory stays at
        one batch plus the block given)."""
        if not table.num_rows:
            return
        self._pending.append(table.replace_schema_metadata(self.schema.metadata))
        self._pending_rows += table.num_rows
        while self._pending_rows >= BATCH_ROWS:
            queued = pa.concat_tables(self._pending)
            self._write_batch(queued.slice(0, BATCH_ROWS))
            rest = queued.slice(BATCH_ROWS)
            self._pending = [rest] if rest.num_rows else []
            self._pending_rows = rest.num_rows

    def _write_batch(self, rows: pa.Table) -> None:
        # One record batch: its rows in one chunk per column (blocks meet inside it).
        self._writer.write_batch(rows.combine_chunks().to_batches()[0])

    def commit(self) -> None:
        if self._pending_rows:
            self._write_batch(pa.concat_tables(self._pending))
            self._pending = []
            self._pending_rows = 0
        self._writer.close()
        self._sink.close()
        self._open = False
        _fsync_path(self.temporary)
        os.replace(self.temporary, self.target)
        _fsync_directory(self.target.parent)

    def abort(self) -> None:
        if self._open:
            self._open = False
            with contextlib.suppress(Exception):
                self._writer.close()
            with contextlib.suppress(Exception):
                self._sink.close()
        with contextlib.suppress(FileNotFoundError):
            self.temporary.unlink()

    def __enter__(self) -> ColumnarWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None or self._open:
            self.abort()


def _fsync_path(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_directory(path: Path) -> None:
    # Makes the rename itself durable; some platforms cannot open a directory, which is fine.
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def read_columnar(path: Path, start: int | None = None, end: int | None = None) -> pa.Table:
    """Rows ``[start, end)`` of a columnar copy (``None`` means the first / past the last row).

    The file is memory-mapped and only the batches overlapping the range are touched; the
    returned table's buffers point into the mapping (zero-copy). Indices past the end are
    clipped, as with a Python slice; negative indices are refused.
    """
    if (start is not None and start < 0) or (end is not None and end < 0):
        raise ValueError("start and end must be non-negative row indices")
    try:
        return read_rows(pyarrow.ipc.open_file(pa.memory_map(str(path), "r")), start, end)
    except (pa.ArrowException, OSError) as error:
        raise IngestError(f"cannot read the columnar copy {path.name}: {error}") from error
