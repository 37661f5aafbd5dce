"""Giving the memory of a finished job back to the operating system.

A job that parsed a large file leaves its peak behind in the allocators, not in live objects:
pyarrow's memory pool (mimalloc or jemalloc) keeps freed pages for the next allocation, and
glibc's malloc keeps freed arena memory (the CSV parser's blocks, boto3's and urllib3's
buffers) unless it is trimmed. In a long-lived worker that retained memory adds to the next
job's peak: measured on a 1 GB CSV through S3, the plot pyramid job that follows processing
peaked ~115 MB over the worker's resting size, of which ~80 MB was what processing had kept.
Releasing both after every job brings the worker back near its resting size between jobs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable
from functools import cache

log = logging.getLogger("capturehub.tasks")


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]  # type: ignore[attr-defined]
    trim.restype = ctypes.c_int  # type: ignore[attr-defined]
    return trim


def release_memory() -> None:
    """Hand freed memory back: pyarrow's pool (only if a job loaded pyarrow), then glibc's
    heap. Cheap (a few ms) and safe while other threads allocate; never raises."""
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        try:
            pyarrow.default_memory_pool().release_unused()
        except Exception:  # an older pyarrow without it: the trim below still helps
            log.debug("pyarrow's memory pool could not release", exc_info=True)
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
