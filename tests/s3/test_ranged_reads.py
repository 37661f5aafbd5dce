"""A columnar copy in S3 is read by ranges: a slice fetches the footer and the record batches
holding its rows, not the object (counted on the bytes the store is asked for)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pytest

from capturehub.ingest.columnar import BATCH_ROWS, ColumnarWriter
from capturehub.server.captures.data import arrow_stream
from capturehub.storage.s3 import S3BlobStore
from tests.s3server import SeaweedFS

BATCHES = 20  # of BATCH_ROWS rows x 3 float64 columns (~31 MB)


class CountingStore(S3BlobStore):
    """Counts the bytes asked for by reads (not size/exists)."""

    fetched = 0
    requests = 0

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        self.requests += 1
        for chunk in super().read(key, start, end):
            self.fetched += len(chunk)
            yield chunk


@pytest.fixture(scope="module")
def stored_copy(
    seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory
) -> tuple[CountingStore, str, pa.Table]:
    folder = tmp_path_factory.mktemp("ranged")
    store = CountingStore(
        seaweedfs.new_bucket(), "lab", client=seaweedfs.client(), scratch_dir=folder
    )
    values = np.arange(BATCHES * BATCH_ROWS - 1000, dtype=np.float64)
    table = pa.table({"ax": values, "ay": values * 2, "az": values * 3})
    path = folder / "copy.arrow"
    with ColumnarWriter(path, table.schema) as writer:
        for start in range(0, table.num_rows, 7_919):  # blocks as a parser gives them
            writer.write(table.slice(start, 7_919))
        writer.commit()
    key = f"captures/p/{uuid.uuid4()}/columnar-1.arrow"
    store.put_file(key, path)
    return store, key, table


def _read(store: CountingStore, key: str, start: int | None, end: int | None) -> pa.Table:
    store.fetched = store.requests = 0
    stream = b"".join(bytes(part) for part in arrow_stream(store, key, start, end))
    return pyarrow.ipc.open_stream(stream).read_all()


def test_a_slice_fetches_only_its_batches(
    stored_copy: tuple[CountingStore, str, pa.Table],
) -> None:
    store, key, table = stored_copy
    size = store.size(key)
    batch_bytes = size // BATCHES

    start = 11 * BATCH_ROWS - 500  # across batches 10 and 11
    middle = _read(store, key, start, start + 1000)
    assert middle.equals(table.slice(start, 1000).replace_schema_metadata(middle.schema.metadata))
    # The footer, the last batch (once, for the row count) and the two batches.
    assert store.fetched < 4 * batch_bytes

    head = _read(store, key, 0, 1000)
    assert head.num_rows == 1000 and head.column("ax").to_pylist() == list(range(1000))
    assert store.fetched < 2 * batch_bytes

    whole = _read(store, key, None, None)
    assert whole.num_rows == table.num_rows
    # Read ahead in order: a request per 8 MiB or so, not one or two per batch.
    assert store.requests < BATCHES // 2
    assert whole.column("az").equals(table.column("az"))
