"""Serving samples from the columnar copy as an Arrow IPC stream (never re-parsing the CSV).

An SDK on the server's machine reads the copy in place instead (see local_files.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from capturehub.ingest import read_columnar
from capturehub.storage import BlobStore

BATCH_ROWS = 256 * 1024
ARROW_STREAM_TYPE = "application/vnd.apache.arrow.stream"


def arrow_stream(
    blobs: BlobStore, key: str, start: int | None, end: int | None
) -> Iterator[bytes | memoryview]:
    """Open the columnar copy now (a missing blob raises BlobNotFound before any byte is
    sent, so the route can still answer 404) and stream it batch by batch."""
    with blobs.local_copy(key) as path:
        # Memory-mapped: the mapping stays valid after a temporary copy is removed.
        table = read_columnar(path, start, end)
    return _messages(table)


# The stream's end: a continuation marker and a zero length (the Arrow IPC stream format).
END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"


def _messages(table: pa.Table) -> Iterator[bytes | memoryview]:
    """The Arrow IPC stream: the schema message, one message per batch, the end marker.

    Each message is serialized once into its own Arrow buffer and handed to the server as a
    memoryview of it, with no further copy (a batch is ``BATCH_ROWS`` rows, a few MB).
    """
    yield memoryview(table.schema.serialize())
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        yield memoryview(batch.serialize())
    yield END_OF_STREAM
