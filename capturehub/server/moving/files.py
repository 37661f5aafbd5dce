"""The lab's stored files copied to the new blob store, each one read back and checked."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from sqlalchemy import Engine, insert, select

from capturehub.server.moving.target import MOVED_FILES
from capturehub.storage import BlobNotFound, BlobStore


@dataclass(frozen=True)
class Expected:
    """What a capture row recorded of its original when it was uploaded."""

    size: int
    sha256: str
    capture: str


@dataclass
class FilesResult:
    copied: int = 0  # in this run
    bytes: int = 0  # in this run
    already: int = 0  # copied and checked by an earlier run
    # Files the capture rows name but the old store did not have (lost before the move).
    missing: list[str] = field(default_factory=list)
    # Originals whose bytes differ from their capture row's size or sha256 (damaged before
    # the move; copied as they are).
    damaged: list[str] = field(default_factory=list)
    # Files that could not be copied or whose copy reads back different: a run again retries.
    failed: list[str] = field(default_factory=list)


def _digest(chunks: object) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:  # type: ignore[attr-defined]
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def copy_one(source: BlobStore, target: BlobStore, key: str) -> tuple[int, str]:
    """Copy a file and read the copy back: its size and sha256, equal on both sides."""
    digest = hashlib.sha256()
    size = 0
    writer = target.writer(key)
    try:
        for chunk in source.read(key):
            digest.update(chunk)
            size += len(chunk)
            writer.write(chunk)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    sent = (size, digest.hexdigest())
    stored = _digest(target.read(key))
    if stored != sent:
        raise ValueError(
            f"the copy reads back as {stored[0]} bytes, sha256 {stored[1]}; "
            f"the original has {sent[0]} bytes, sha256 {sent[1]}"
        )
    return sent


def copy_files(
    source: BlobStore,
    target: BlobStore,
    engine: Engine,
    expected: dict[str, Expected],
    referenced: set[str],
    *,
    jobs: int,
    on_progress: Callable[[FilesResult, int], None],
) -> FilesResult:
    """Copy every file of the old store that no earlier run copied, ``jobs`` at a time, and
    note each checked one in the new database (so a later run skips it)."""
    result = FilesResult()
    with engine.connect() as connection:
        done = set(connection.scalars(select(MOVED_FILES.c.key)))
    keys = sorted(source.list(""))
    present = set(keys)
    result.missing = sorted(referenced - present)
    todo = [key for key in keys if key not in done]
    result.already = len(keys) - len(todo)
    lock = threading.Lock()

    def move(key: str) -> None:
        try:
            size, sha256 = copy_one(source, target, key)
        except BlobNotFound:  # deleted from the old store since it was listed
            with lock:
                if key in referenced:
                    result.missing.append(key)
            return
        except Exception as exc:
            with lock:
                result.failed.append(f"{key}: {exc}")
            return
        wanted = expected.get(key)
        if wanted is not None and (wanted.size, wanted.sha256) != (size, sha256):
            with lock:
                result.damaged.append(
                    f"{key} (capture {wanted.capture}): {size} bytes, sha256 {sha256}; its "
                    f"capture recorded {wanted.size} bytes, sha256 {wanted.sha256}"
                )
            # Still noted as copied: the copy is the old lab's file as it is, and the next
            # run has nothing better to copy.
        with engine.begin() as connection:
            connection.execute(insert(MOVED_FILES).values(key=key, size=size, sha256=sha256))
        with lock:
            result.copied += 1
            result.bytes += size
            on_progress(result, len(keys))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for future in as_completed([pool.submit(move, key) for key in todo]):
            future.result()
    result.missing.sort()
    return result
