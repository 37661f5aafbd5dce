"""What every BlobStore must do, whatever it stores blobs in.

:class:`BlobStoreContract` holds the tests; a store's test module subclasses it and provides
the ``store`` fixture (a fresh, empty store per test), as ``test_contract.py`` does for local
disk. Another store (S3...) only adds its own fixture.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from capturehub.storage import BlobNotFound, BlobStore

KEY = "captures/p/c/original-1"


def _stored(store: BlobStore, key: str, data: bytes) -> None:
    writer = store.writer(key)
    writer.write(data)
    writer.commit()


def _read(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.read(key, start, end))


class BlobStoreContract:
    """Parametrised by the ``store`` fixture of the subclass."""

    @pytest.fixture
    def store(self) -> BlobStore:
        raise NotImplementedError("a store's test module provides the `store` fixture")

    def test_written_bytes_are_invisible_until_commit(self, store: BlobStore) -> None:
        writer = store.writer(KEY)
        writer.write(b"hello ")
        writer.write(b"world")
        assert not store.exists(KEY)
        assert list(store.list("captures/")) == []
        writer.commit()
        assert store.exists(KEY)
        assert _read(store, KEY) == b"hello world"
        assert store.size(KEY) == 11

    def test_abort_leaves_nothing_new_and_the_previous_blob_whole(self, store: BlobStore) -> None:
        aborted = store.writer("captures/p/c/new")
        aborted.write(b"partial")
        aborted.abort()
        assert not store.exists("captures/p/c/new")
        _stored(store, KEY, b"first version")
        replacement = store.writer(KEY)
        replacement.write(b"second")
        replacement.abort()
        assert _read(store, KEY) == b"first version"
        assert list(store.list("captures/")) == [KEY]

    def test_abort_twice_is_harmless(self, store: BlobStore) -> None:
        # A failed upload may be aborted by the parser and again by the lifecycle.
        writer = store.writer(KEY)
        writer.write(b"partial")
        writer.abort()
        writer.abort()
        assert not store.exists(KEY)
        assert store.sweep_temporary(0, remove=False) == 0

    def test_commit_replaces_a_blob_whole(self, store: BlobStore) -> None:
        _stored(store, KEY, b"a" * 1000)
        _stored(store, KEY, b"b" * 10)
        assert _read(store, KEY) == b"b" * 10

    def test_ranges_including_past_the_end(self, store: BlobStore) -> None:
        data = bytes(range(256)) * 8192  # 2 MB: more than one chunk
        _stored(store, KEY, data)
        assert _read(store, KEY, 10, 20) == data[10:20]
        assert _read(store, KEY, 1_500_000) == data[1_500_000:]
        assert _read(store, KEY, len(data) - 5, len(data) + 100) == data[-5:]
        assert _read(store, KEY, len(data) + 10) == b""
        assert _read(store, KEY, 7, 7) == b""

    def test_missing_keys_are_blob_not_found(self, store: BlobStore) -> None:
        missing = "captures/p/c/missing"
        assert not store.exists(missing)
        with pytest.raises(BlobNotFound):
            _read(store, missing)
        with pytest.raises(BlobNotFound):
            store.size(missing)
        with pytest.raises(BlobNotFound):
            store.modified_at(missing)
        with pytest.raises(BlobNotFound), store.local_copy(missing):
            pass

    def test_listing_by_prefix(self, store: BlobStore) -> None:
        keys = ["captures/p1/c1/original-a", "captures/p1/c2/original-b", "captures/p2/c3/x"]
        for key in keys:
            _stored(store, key, key.encode())
        assert sorted(store.list("captures/p1/")) == keys[:2]
        assert sorted(store.list("captures/")) == keys
        assert list(store.list("captures/none/")) == []

    def test_delete_removes_and_deleting_a_missing_key_is_fine(self, store: BlobStore) -> None:
        _stored(store, KEY, b"x")
        store.delete(KEY)
        assert not store.exists(KEY)
        store.delete(KEY)
        store.delete("captures/never/was/there")
        assert list(store.list("")) == []

    def test_concurrent_writers_to_one_key_end_with_one_whole_blob(self, store: BlobStore) -> None:
        versions = [bytes([index]) * 300_000 for index in range(8)]
        barrier = threading.Barrier(len(versions))
        errors: list[BaseException] = []

        def write(data: bytes) -> None:
            try:
                writer = store.writer(KEY)
                barrier.wait(10)
                for start in range(0, len(data), 50_000):
                    writer.write(data[start : start + 50_000])
                writer.commit()
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(v,)) for v in versions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert _read(store, KEY) in versions
        assert list(store.list("")) == [KEY]

    def test_put_file_and_local_copy(self, store: BlobStore) -> None:
        with store.scratch_file("made.bin") as path:
            path.write_bytes(b"made here")
            store.put_file(KEY, path)
        assert _read(store, KEY) == b"made here"
        with store.local_copy(KEY) as copy:
            assert copy.read_bytes() == b"made here"

    def test_scratch_files_are_private_and_removed(self, store: BlobStore) -> None:
        with store.scratch_file("a.arrow") as first, store.scratch_file("a.arrow") as second:
            assert first != second and first.name == "a.arrow"
            assert not first.exists()
            first.write_bytes(b"1")
            second.write_bytes(b"2")
            assert first.read_bytes() == b"1"
        assert not first.exists() and not first.parent.exists()
        assert list(store.list("")) == []
        with pytest.raises(RuntimeError), store.scratch_file("b") as third:
            third.write_bytes(b"3")
            raise RuntimeError("the job failed")
        assert not third.exists()

    def test_sweeping_temporary_files_a_crash_left(self, store: BlobStore) -> None:
        assert store.sweep_temporary(0, remove=False) == 0
        writer = store.writer(KEY)  # never committed nor aborted: a crash mid-upload
        writer.write(b"partial")
        scratch = store.scratch_file("columnar.arrow")
        path = scratch.__enter__()  # never exited: a crash mid-job
        path.write_bytes(b"partial copy")
        assert store.sweep_temporary(3600, remove=True) == 0  # young: maybe still in use
        assert store.sweep_temporary(0, remove=False) == 2
        assert store.sweep_temporary(0, remove=True) == 2
        assert store.sweep_temporary(0, remove=False) == 0
        assert not path.exists()
        assert not store.exists(KEY)

    def test_free_space_is_a_number_of_bytes_or_no_limit(self, store: BlobStore) -> None:
        free = store.free_space()
        assert free is None or (isinstance(free, int) and free > 0)

    def test_stored_path_is_the_blob_s_file_or_none(self, store: BlobStore) -> None:
        _stored(store, KEY, b"in place")
        path = store.stored_path(KEY)
        if path is not None:
            assert isinstance(path, Path) and path.read_bytes() == b"in place"
            with pytest.raises(BlobNotFound):
                store.stored_path("captures/p/c/missing")
