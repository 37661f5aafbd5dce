"""A worker gives a finished job's freed memory back to the operating system."""

from __future__ import annotations

import pyarrow as pa

from capturehub.tasks.memory import release_memory


def test_release_runs_with_pyarrow_loaded_and_never_raises() -> None:
    pool = pa.default_memory_pool()
    table = pa.table({"x": pa.array(range(2_000_000), type=pa.float64())})
    assert pool.bytes_allocated() >= table.nbytes
    del table
    release_memory()  # with pyarrow loaded, its pool first, then glibc's heap
    release_memory()  # again, nothing left: still fine
    assert pool.bytes_allocated() < 1 << 20
