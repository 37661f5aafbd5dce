"""Serving samples from the columnar copy as an Arrow IPC stream (never re-parsing the CSV).

An SDK on the server's machine reads the copy in place instead (see local_files.py)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.ipc

from capturehub.ingest import read_columnar
from capturehub.ingest.columnar import BATCH_ROWS as COPY_BATCH_ROWS
from capturehub.storage import BlobStore
from capturehub.storage.arrow_blobs import batch_index, open_arrow_file

BATCH_ROWS = 256 * 1024
# A long read goes through the batches in order: fetch 8 MiB per request (a few batches),
# not two requests per batch.
READAHEAD_BYTES = 8 * 1024 * 1024
ARROW_STREAM_TYPE = "application/vnd.apache.arrow.stream"


def arrow_stream(
    blobs: BlobStore, key: str, start: int | None, end: int | None
) -> Iterator[bytes | memoryview]:
    """Open the columnar copy now (a missing blob raises BlobNotFound before any byte is
    sent, so the route can still answer 404) and stream it batch by batch.

    A copy on this machine's disk is memory-mapped; one in an object store is read by ranges
    (the footer, then only the record batches holding the rows, one at a time), never
    downloaded whole for a request."""
    path = blobs.stored_path(key)
    if path is not None:
        # Memory-mapped: the mapping stays valid if the file is removed meanwhile.
        return _messages(read_columnar(path, start, end))
    if (start is not None and start < 0) or (end is not None and end < 0):
        raise ValueError("start and end must be non-negative row indices")
    # Many batches in order: read ahead. A few (a slice): fetch exactly those.
    many = end is None or end - (start or 0) > 4 * COPY_BATCH_ROWS
    reader = open_arrow_file(blobs, key, readahead=READAHEAD_BYTES if many else 0)
    return _ranged_messages(key, reader, start or 0, end)


def _ranged_messages(
    key: str, reader: pyarrow.ipc.RecordBatchFileReader, start: int, end: int | None
) -> Iterator[bytes | memoryview]:
    """The stream of rows ``[start, end)``, fetching one record batch at a time."""
    yield memoryview(reader.schema.serialize())
    first, offset = 0, 0
    if start > 0:
        # Where each batch starts (learnt once per copy and cached: keys are never rewritten).
        index = batch_index(key, reader)
        first = max(int(np.searchsorted(index.starts, start, side="right")) - 1, 0)
        offset = int(index.starts[first])
    for number in range(first, reader.num_record_batches):
        if end is not None and offset >= end:
            break
        batch = reader.get_batch(number)
        low = max(start - offset, 0)
        high = batch.num_rows if end is None else min(end - offset, batch.num_rows)
        if high > low:
            yield memoryview(batch.slice(low, high - low).serialize())
        offset += batch.num_rows
    yield END_OF_STREAM


# The stream's end: a continuation marker and a zero length (the Arrow IPC stream format).
END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"


def table_messages(table: pa.Table) -> Iterator[bytes | memoryview]:
    """A table in memory (a recording's samples so far) as an Arrow IPC stream."""
    return _messages(table)


def _messages(table: pa.Table) -> Iterator[bytes | memoryview]:
    """The Arrow IPC stream: the schema message, one message per batch, the end marker.

    Each message is serialized once into its own Arrow buffer and handed to the server as a
    memoryview of it, with no further copy (a batch is ``BATCH_ROWS`` rows, a few MB).
    """
    yield memoryview(table.schema.serialize())
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        yield memoryview(batch.serialize())
    yield END_OF_STREAM
