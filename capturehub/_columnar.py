"""Rows ``[start, end)`` of a columnar copy (an Arrow IPC file), without reading the rest.

Shared by the server, which streams the rows over HTTP, and the SDK, which reads them in place
when it runs on the server's machine (``Capture.get_data``). Both must cut exactly the same
rows, so the cutting lives here once. Only pyarrow is needed, which the SDK has.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.ipc


def read_rows(
    reader: pyarrow.ipc.RecordBatchFileReader, start: int | None, end: int | None
) -> pa.Table:
    """The rows ``start <= i < end`` (``None``: from the first / past the last row).

    Only the record batches overlapping the range are touched; on a memory-mapped file the
    table's buffers point into the mapping (zero-copy). Indices past the end are clipped, as
    with a Python slice; negative indices are refused with ``ValueError``.
    """
    if (start is not None and start < 0) or (end is not None and end < 0):
        raise ValueError("start and end must be non-negative row indices")
    first = start or 0
    batches: list[pa.RecordBatch] = []
    offset = 0
    for index in range(reader.num_record_batches):
        if end is not None and offset >= end:
            break
        batch = reader.get_batch(index)
        stop = offset + batch.num_rows
        if stop > first:
            low = max(first - offset, 0)
            high = batch.num_rows if end is None else min(end - offset, batch.num_rows)
            if high > low:
                batches.append(batch.slice(low, high - low))
        offset = stop
    return pa.Table.from_batches(batches, schema=reader.schema)
