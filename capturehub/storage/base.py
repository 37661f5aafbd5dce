"""The blob store interface, small enough that local disk and S3 both implement it."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path


class BlobNotFound(Exception):
    """The key names no stored blob."""


class StoreUnavailable(Exception):
    """The store cannot answer now (an object store down or unreachable); trying again
    later may succeed. The server answers 503 with Retry-After."""


class StoreMisconfigured(StoreUnavailable):
    """The store refuses this process's configuration (credentials refused, no permission, a
    bucket that does not exist): waiting will not fix it, its operator must. A kind of
    :class:`StoreUnavailable`, so work that needs the store is given back, not failed; the
    server answers 503 naming the cause, and ``capturehub serve``/``worker`` refuse to start
    (:meth:`BlobStore.check`). The message names the setting to correct."""


class BlobWriter(abc.ABC):
    """Receives a blob's bytes in order; nothing is visible under the key until :meth:`commit`."""

    @abc.abstractmethod
    def write(self, chunk: bytes) -> None: ...

    @abc.abstractmethod
    def commit(self) -> None:
        """Make the bytes durable and visible under the key, atomically."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Drop what was written; the key is left as it was."""


class BlobStore(abc.ABC):
    def check(self) -> None:
        """Raise :class:`StoreMisconfigured` when the store refuses this configuration (one
        cheap request); a store that does not answer at all raises :class:`StoreUnavailable`.
        Stores that cannot be misconfigured this way check nothing."""
        return None

    @abc.abstractmethod
    def writer(self, key: str) -> BlobWriter: ...

    @abc.abstractmethod
    def put_file(self, key: str, source: Path) -> None:
        """Store a local file under ``key`` (the file may be moved, not copied)."""

    @abc.abstractmethod
    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``[start, end)`` of the blob in chunks."""

    @abc.abstractmethod
    def size(self, key: str) -> int: ...

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def modified_at(self, key: str) -> float:
        """When the blob was stored, as a POSIX timestamp."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the blob; deleting a missing key is not an error."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key that starts with ``prefix``."""

    @abc.abstractmethod
    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A local file holding the blob, for readers that need a path (parsers, memory maps).

        Local disk hands out its own file; remote stores download to a temporary file that is
        removed when the context exits.
        """

    @abc.abstractmethod
    def free_space(self) -> int | None:
        """Bytes that can still be stored, or None when the store sets no practical limit
        (object stores). Processing waits for room with it (a full disk)."""

    @abc.abstractmethod
    def scratch_file(self, name: str) -> AbstractContextManager[Path]:
        """A path named ``name`` in a fresh private folder of this machine, for a file made
        before it is stored (e.g. a columnar copy, then :meth:`put_file`). The folder and what
        is left in it are removed when the context exits; a crash leaves it to
        :meth:`sweep_temporary`."""

    @abc.abstractmethod
    def sweep_temporary(self, min_age_seconds: float, *, remove: bool) -> int:
        """How many temporary files (uncommitted writes, scratch folders) at least
        ``min_age_seconds`` old a crash left behind; ``remove`` deletes them."""

    def stored_path(self, key: str) -> Path | None:
        """The file the blob lives in, when it lives in a file of this machine that stays in
        place (local disk), else None (remote stores, without asking them). A local store
        raises BlobNotFound for a missing key.

        Lets a client on the same machine read a columnar copy in place instead of over HTTP.
        """
        return None
