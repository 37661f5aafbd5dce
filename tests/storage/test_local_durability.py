"""The local blob store's commit is durable: the file's bytes reach the disk before it is
renamed onto its final name, and the folder is synced after the rename (that makes the rename
itself survive a power cut).

A SIGKILL cannot show a missing fsync (the page cache survives the process), so these tests
watch the calls: ``os.fsync`` and ``os.replace`` are wrapped to record, in order, what was
synced (which file or folder, and how many bytes it held) and what was renamed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from capturehub.storage.local import LocalBlobStore

Event = tuple[str, object]


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    recorded: list[Event] = []
    real_fsync = os.fsync
    real_replace = os.replace

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        kind = "fsync-folder" if stat.S_ISDIR(info.st_mode) else "fsync-file"
        recorded.append((kind, (info.st_dev, info.st_ino, info.st_size)))
        real_fsync(fd)

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        info = os.stat(source)
        recorded.append(("replace", (info.st_dev, info.st_ino, Path(target))))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return recorded


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def test_a_committed_blob_is_synced_before_its_rename_and_its_folder_after(
    tmp_path: Path, events: list[Event]
) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    key = "captures/project/capture/original-1"
    rows = [b"ax,ay,az\n"] + [b"1,2,3\n"] * 500
    data = b"".join(rows)
    writer = store.writer(key)
    for row in rows:  # small writes stay in the file object's buffer until flushed
        writer.write(row)
    writer.commit()

    final = store.path(key)
    assert final.read_bytes() == data
    blob = _identity(final)  # a rename keeps the inode: the temporary file is this one
    folder = _identity(final.parent)
    kinds = [kind for kind, _ in events]
    renames = [i for i, (kind, what) in enumerate(events) if kind == "replace"]
    assert len(renames) == 1, events
    rename = renames[0]
    assert events[rename][1] == (*blob, final)

    # The file was synced before the rename, holding all its bytes (flushed, then synced).
    file_syncs = [
        i
        for i, (kind, what) in enumerate(events)
        if kind == "fsync-file" and what == (*blob, len(data))
    ]
    assert file_syncs and file_syncs[0] < rename, events
    # The folder that received the name was synced after the rename.
    folder_syncs = [
        i
        for i, (kind, what) in enumerate(events)
        if kind == "fsync-folder" and isinstance(what, tuple) and what[:2] == folder
    ]
    assert folder_syncs and folder_syncs[-1] > rename, (kinds, events)


def test_a_file_put_in_place_has_its_folder_synced_after_the_rename(
    tmp_path: Path, events: list[Event]
) -> None:
    """put_file takes a file its caller already synced (the columnar writer does); the store
    must still make the rename durable."""
    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "copy.arrow"
    source.write_bytes(b"columnar")
    key = "captures/project/capture/columnar-1.arrow"
    store.put_file(key, source)

    final = store.path(key)
    assert final.read_bytes() == b"columnar"
    folder = _identity(final.parent)
    rename = next(i for i, (kind, _) in enumerate(events) if kind == "replace")
    assert any(
        kind == "fsync-folder" and isinstance(what, tuple) and what[:2] == folder
        for kind, what in events[rename + 1 :]
    ), events
