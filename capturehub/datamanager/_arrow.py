"""Read a capture's samples from the server's Arrow IPC stream into a DataFrame.

The body is fed to pyarrow as it arrives (a file-like view of the response chunks), so the
encoded bytes are never held whole next to the decoded table. pyarrow and pandas are imported
only here, on first use.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from capturehub.exceptions import ServerError

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
