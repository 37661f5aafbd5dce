"""Blobs as files under one folder: the embedded default.

Writes go to a temporary file in the same file system, are fsynced and then renamed onto the
final name, so a crash leaves either the whole blob or none of it (plus, at worst, a temporary
file that ``capturehub fsck`` sweeps).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from capturehub.storage.base import BlobNotFound, BlobStore, BlobWriter

CHUNK_SIZE = 1024 * 1024
# Keys are made by the server from uuids; refusing anything else keeps a bug from ever
# turning a key into a path outside the store.
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-.]+)*$")
TEMP_DIR_NAME = ".tmp"
SCRATCH_DIR_NAME = ".scratch"


def _move_into_place(source: Path, final: Path) -> None:
    """Rename ``source`` onto ``final``, creating its folder. A concurrent delete may remove
    that folder (deletes prune empty folders) between the mkdir and the rename, or even
    inside mkdir (which then finds the name taken but no folder under it and raises
    FileExistsError): try again."""
    for attempt in range(5):
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, final)
            break
        except (FileNotFoundError, FileExistsError):
            if attempt == 4 or not source.exists():
                raise
    _fsync_dir(final.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _LocalWriter(BlobWriter):
    def __init__(self, final: Path, temp: Path) -> None:
        self._final = final
        self._temp = temp
        self._file = open(temp, "wb")  # noqa: SIM115 - closed in commit/abort

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        _move_into_place(self._temp, self._final)

    def abort(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


class LocalBlobStore(BlobStore):
    """Blobs under ``root``; scratch files in ``scratch_dir`` (by default a hidden folder of
    ``root``), which must be on the same file system so that storing one is a rename."""

    def __init__(self, root: Path, scratch_dir: Path | None = None) -> None:
        self.root = root.resolve()
        self.temp_dir = self.root / TEMP_DIR_NAME
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self.scratch_dir = (scratch_dir or self.root / SCRATCH_DIR_NAME).resolve()

    def path(self, key: str) -> Path:
        if not _KEY_PATTERN.match(key) or ".." in key.split("/"):
            raise ValueError(f"invalid blob key {key!r}")
        return self.root / key

    def temp_path(self) -> Path:
        return self.temp_dir / uuid.uuid4().hex

    def writer(self, key: str) -> BlobWriter:
        return _LocalWriter(self.path(key), self.temp_path())

    def put_file(self, key: str, source: Path) -> None:
        _move_into_place(source, self.path(key))

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self.path(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the generator below
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        return self._chunks(handle, start, end)

    @staticmethod
    def _chunks(handle: object, start: int, end: int | None) -> Iterator[bytes]:
        import io

        assert isinstance(handle, io.BufferedReader)
        with handle:
            handle.seek(start)
            remaining = None if end is None else max(end - start, 0)
            while remaining is None or remaining > 0:
                size = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                chunk = handle.read(size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def modified_at(self, key: str) -> float:
        try:
            return self.path(key).stat().st_mtime
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        # Drop now-empty parent folders so a deleted project leaves nothing behind.
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def list(self, prefix: str = "") -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            if Path(dirpath) == self.root:
                dirnames[:] = [n for n in dirnames if n not in (TEMP_DIR_NAME, SCRATCH_DIR_NAME)]
            for filename in filenames:
                key = Path(dirpath, filename).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        path = self.path(key)
        if not path.is_file():
            raise BlobNotFound(key)
        return nullcontext(path)

    def stored_path(self, key: str) -> Path | None:
        path = self.path(key)
        if not path.is_file():
            raise BlobNotFound(key)
        return path

    def free_space(self) -> int | None:
        return shutil.disk_usage(self.root).free

    @contextmanager
    def scratch_file(self, name: str) -> Iterator[Path]:
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.scratch_dir))
        try:
            yield folder / name
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def sweep_temporary(self, min_age_seconds: float, *, remove: bool) -> int:
        now = time.time()
        stale = []
        for folder in (self.temp_dir, self.scratch_dir):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                try:
                    if now - path.stat().st_mtime >= min_age_seconds:
                        stale.append(path)
                except FileNotFoundError:  # finished meanwhile
                    continue
        if remove:
            for path in stale:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        return len(stale)
