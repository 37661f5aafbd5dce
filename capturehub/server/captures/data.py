"""Serving samples from the columnar copy as an Arrow IPC stream (never re-parsing the CSV)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pyarrow as pa

from capturehub.ingest import read_columnar
from capturehub.storage import BlobStore

BATCH_ROWS = 256 * 1024


class _Pending(io.RawIOBase):
    """A write-only file that hands out what was written since the last :meth:`take`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def arrow_stream(blobs: BlobStore, key: str, start: int | None, end: int | None) -> Iterator[bytes]:
    """Open the columnar copy now (a missing blob raises BlobNotFound before any byte is
    sent, so the route can still answer 404) and stream it batch by batch."""
    with blobs.local_copy(key) as path:
        # Memory-mapped: the mapping stays valid after a temporary copy is removed.
        table = read_columnar(path, start, end)
    return _batches(table)


def _batches(table: pa.Table) -> Iterator[bytes]:
    pending = _Pending()
    # Yield after every batch so the response streams instead of building in memory.
    with pa.ipc.new_stream(pending, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            writer.write_batch(batch)
            yield pending.take()
    yield pending.take()
