"""Read a capture's samples into a DataFrame: from the server's Arrow IPC stream, or in place
from the server's columnar copy when the SDK runs on the server's machine.

The stream is fed to pyarrow as it arrives (a file-like view of the response chunks), so the
encoded bytes are never held whole next to the decoded table. pyarrow and pandas are imported
only here, on first use.
"""

from __future__ import annotations

import io
import mmap
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from capturehub._transport.local_files import LOCAL_FILE_TYPE, open_described
from capturehub.exceptions import ServerError

__all__ = ["ARROW_STREAM_TYPE", "LOCAL_FILE_TYPE", "read_arrow_stream", "read_local_file"]

if TYPE_CHECKING:
    import pandas as pd

ARROW_STREAM_TYPE = "application/vnd.apache.arrow.stream"


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._current:
            try:
                self._current = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._current))
        buffer[:size] = self._current[:size]
        self._current = self._current[size:]
        return size


def read_arrow_stream(chunks: Iterator[bytes], content_type: str, url: str) -> pd.DataFrame:
    """Decode an Arrow IPC stream body into a DataFrame."""
    import pyarrow as pa
    import pyarrow.ipc

    if content_type.split(";")[0].strip().lower() != ARROW_STREAM_TYPE:
        raise ServerError(
            f"expected an Arrow stream ({ARROW_STREAM_TYPE}) from {url}, got {content_type!r}; "
            "is the server up to date?"
        )
    try:
        reader = pyarrow.ipc.open_stream(io.BufferedReader(_ChunkReader(chunks), 1 << 20))
        table = reader.read_all()
    except pa.ArrowInvalid as exc:
        raise ServerError(f"the server sent an invalid Arrow stream from {url}: {exc}") from exc
    return table.to_pandas()


def read_local_file(
    location: Mapping[str, Any], start: int | None, end: int | None
) -> pd.DataFrame | None:
    """Rows ``[start, end)`` of the columnar copy the server located, read in place, or None
    when this process cannot see that very file (see ``_transport/local_files.py``): the caller
    then asks for the stream. The checked file is memory-mapped; the server never writes into
    a copy (a new one is renamed over it), so the mapping cannot change under the reader.
    """
    import pyarrow as pa
    import pyarrow.ipc

    from capturehub._columnar import read_rows

    opened = open_described(location)
    if opened is None:
        return None
    descriptor, size = opened
    try:
        if not size:
            return None
        mapping = mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    finally:
        os.close(descriptor)  # the mapping keeps the file open
    try:
        reader = pyarrow.ipc.open_file(pa.py_buffer(mapping))
        table = read_rows(reader, start, end)
    except pa.ArrowException:
        return None
    # to_pandas copies the samples out of the mapping: the frame owns its memory, and the
    # mapping is released once pyarrow drops its last buffer.
    return table.to_pandas()
