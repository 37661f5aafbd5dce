"""Opening an Arrow IPC file kept in the blob store, reading only the parts a request needs.

A blob on this machine's disk is memory-mapped (zero-copy slices). Any other store is read
through :meth:`BlobStore.read` by byte ranges: Arrow reads the footer, then only the record
batches asked for, so a window of a long capture on an object store fetches a few batches,
not the file.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.ipc

from capturehub.ingest.columnar import BATCH_ROWS_KEY
from capturehub.storage.base import BlobNotFound, BlobStore


class BlobRangeFile(io.RawIOBase):
    """A read-only, seekable file over a blob, each read one range request."""

    def __init__(self, blobs: BlobStore, key: str, readahead: int = 0) -> None:
        super().__init__()
        self._blobs = blobs
        self._key = key
        self._size = blobs.size(key)
        self._position = 0
        # With readahead, each request fetches at least that many bytes and later reads are
        # served from them: a reader going through the file in order (every batch of a copy)
        # makes a request per few megabytes, not two per batch.
        self._readahead = readahead
        self._ahead = b""
        self._ahead_start = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._position = offset
        elif whence == io.SEEK_CUR:
            self._position += offset
        else:
            self._position = self._size + offset
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        end = min(self._position + len(buffer), self._size)
        if end <= self._position:
            return 0
        view = memoryview(buffer).cast("B")
        if self._readahead:
            return self._readinto_ahead(view, end)
        filled = 0
        for chunk in self._blobs.read(self._key, self._position, end):
            view[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
        self._position += filled
        return filled

    def _readinto_ahead(self, view: memoryview, end: int) -> int:
        offset = self._position - self._ahead_start
        if not 0 <= offset < len(self._ahead):
            stop = min(max(end, self._position + self._readahead), self._size)
            self._ahead = b"".join(self._blobs.read(self._key, self._position, stop))
            self._ahead_start, offset = self._position, 0
        count = min(end - self._position, len(self._ahead) - offset)
        view[:count] = self._ahead[offset : offset + count]
        self._position += count
        return count


def open_arrow_file(
    blobs: BlobStore, key: str, readahead: int = 0
) -> pyarrow.ipc.RecordBatchFileReader:
    """A reader of the Arrow IPC file stored under ``key``; BlobNotFound when there is none.
    ``readahead``: see :class:`BlobRangeFile` (for readers that go through batches in order)."""
    path = blobs.stored_path(key)
    if path is not None:
        try:
            source: pa.NativeFile = pa.memory_map(str(path), "r")
        except FileNotFoundError as exc:  # deleted between the two calls
            raise BlobNotFound(key) from exc
    else:
        source = pa.PythonFile(io.BufferedReader(BlobRangeFile(blobs, key, readahead)), mode="r")
    return pyarrow.ipc.open_file(source)


@dataclass(frozen=True)
class BatchIndex:
    """Where each record batch of a file starts, in rows (the footer does not say)."""

    starts: npt.NDArray[np.int64]  # one more than the batches: the last is the row count

    @property
    def rows(self) -> int:
        return int(self.starts[-1])


# Blob keys name one stored version and are never rewritten (storage_keys.py), so what is
# learnt of a file holds as long as the key exists.
_INDEX_CACHE_SIZE = 256
_index_cache: OrderedDict[str, BatchIndex] = OrderedDict()
_index_lock = threading.Lock()


def batch_index(key: str, reader: pyarrow.ipc.RecordBatchFileReader) -> BatchIndex:
    with _index_lock:
        known = _index_cache.get(key)
        if known is not None:
            _index_cache.move_to_end(key)
            return known
    batches = reader.num_record_batches
    uniform = (reader.schema.metadata or {}).get(BATCH_ROWS_KEY)
    if uniform and batches:
        # Every batch but the last has the same rows (ColumnarWriter): only the last is read.
        last = reader.get_batch(batches - 1).num_rows
        counts = [int(uniform)] * (batches - 1) + [last]
    else:  # a copy from before: count each batch's rows once
        counts = [reader.get_batch(i).num_rows for i in range(batches)]
    index = BatchIndex(np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64))
    with _index_lock:
        _index_cache[key] = index
        while len(_index_cache) > _INDEX_CACHE_SIZE:
            _index_cache.popitem(last=False)
    return index


def read_row_range(
    reader: pyarrow.ipc.RecordBatchFileReader,
    index: BatchIndex,
    start: int,
    end: int,
    columns: list[str],
) -> pa.Table:
    """Rows ``[start, end)`` of ``columns``, touching only the batches that hold them."""
    schema = pa.schema([reader.schema.field(name) for name in columns])
    if end <= start:
        return schema.empty_table()
    first = int(np.searchsorted(index.starts, start, side="right")) - 1
    batches: list[pa.RecordBatch] = []
    for number in range(max(first, 0), reader.num_record_batches):
        offset = int(index.starts[number])
        if offset >= end:
            break
        batch = reader.get_batch(number).select(columns)
        low = max(start - offset, 0)
        high = min(end - offset, batch.num_rows)
        if high > low:
            batches.append(batch.slice(low, high - low))
    return pa.Table.from_batches(batches, schema=schema)
