"""Reading a server's stored file in place, when the SDK runs on the server's machine.

The server answers ``Accept: application/vnd.capturehub.local-file+json`` (from a loopback
client) with where the file lies and its size, mtime, inode and device. The SDK opens that path
and checks the open file against all four before it reads a byte, so that it never reads a
same-named file of another machine or container, nor a file the server has since replaced;
when anything differs (or the path cannot be opened) it falls back to HTTP. See the server's
``capturehub/server/captures/local_files.py`` for when the location is offered.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import httpx

from capturehub._transport.errors import json_body

LOCAL_FILE_TYPE = "application/vnd.capturehub.local-file+json"
_CHECKED = ("size", "mtime_ns", "inode", "device")
COPY_CHUNK = 64 * 1024 * 1024  # progress is reported after each chunk


def accepting_location(media_type: str) -> str:
    """The ``Accept`` header of a first request: the file's location, else ``media_type``."""
    return f"{LOCAL_FILE_TYPE}, {media_type};q=0.5"


def media_type(response: httpx.Response) -> str:
    """The response's media type, without parameters, in lower case."""
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def location_in(response: httpx.Response) -> Any | None:
    """The location the server answered instead of the bytes (the body is read), or None when
    the response carries the bytes themselves."""
    if media_type(response) != LOCAL_FILE_TYPE:
        return None
    response.read()
    return json_body(response)


def open_described(location: Mapping[str, Any] | Any) -> tuple[int, int] | None:
    """``(descriptor, size)`` of the file the location describes, opened read-only, or None
    when this process cannot open that very file. The caller closes the descriptor."""
    try:
        path = os.fsdecode(location["path"])
        expected = tuple(int(location[key]) for key in _CHECKED)
        # O_BINARY: Windows would otherwise translate line ends when the bytes are read.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except (KeyError, TypeError, ValueError, OSError):  # TypeError: not an object at all
        return None
    try:
        status = os.fstat(descriptor)
    except OSError:
        os.close(descriptor)
        return None
    found = (status.st_size, status.st_mtime_ns, status.st_ino, status.st_dev)
    if found != expected:
        os.close(descriptor)
        return None
    return descriptor, status.st_size


def copy_descriptor(
    source: int, size: int, output: BinaryIO, progress: Callable[[int], None] | None = None
) -> bool:
    """Copy ``size`` bytes of ``source`` into ``output`` (at its start); True when all of them
    were copied. The kernel copies (``sendfile``: no pass through Python, like ``cp``); where
    it cannot (another OS, a file system that refuses), the bytes go through a buffer."""
    copied = 0
    output.flush()
    target = output.fileno()
    try:
        while copied < size:
            sent = os.sendfile(target, source, copied, min(COPY_CHUNK, size - copied))
            if sent == 0:
                break
            copied += sent
            if progress is not None:
                progress(copied)
    except (OSError, AttributeError):
        if copied:
            raise
        return _copy_through_buffer(source, size, output, progress)
    return copied == size


def _copy_through_buffer(
    source: int, size: int, output: BinaryIO, progress: Callable[[int], None] | None
) -> bool:
    copied = 0
    # A duplicate descriptor, so that closing this file object leaves the caller's open.
    with os.fdopen(os.dup(source), "rb") as reader:
        reader.seek(0)
        while copied < size:
            chunk = reader.read(min(1 << 20, size - copied))
            if not chunk:
                break
            output.write(chunk)
            copied += len(chunk)
            if progress is not None:
                progress(copied)
    return copied == size
