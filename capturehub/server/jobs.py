"""The server's named jobs: their names, how to ask for them, and the blob cleanup job.

The functions behind the names are registered once per process by
:mod:`capturehub.server.runtime`; callers only enqueue names and JSON arguments, so they need
not import the code that runs them.
"""

from __future__ import annotations

from collections.abc import Sequence

from capturehub.storage import BlobStore
from capturehub.tasks import JobQueue

PROCESS_CAPTURE = "process capture"
DELETE_BLOBS = "delete blobs"
BUILD_PLOT_PYRAMID = "build plot pyramid"
# Frees the files of a deleted dataset version that nothing refers to any more (versions/pins.py).
FREE_VERSION_FILES = "free version files"


def process_capture_later(jobs: JobQueue, capture_id: int) -> None:
    """Ask for capture ``capture_id`` to be measured (its row says SENT)."""
    jobs.enqueue(PROCESS_CAPTURE, {"capture_id": capture_id})


def build_plot_pyramid_later(jobs: JobQueue, capture_id: int) -> None:
    """Ask for the min/max pyramid of processed capture ``capture_id`` (its plot at any zoom);
    until it is built the plot window is computed from the columnar copy."""
    jobs.enqueue(BUILD_PLOT_PYRAMID, {"capture_id": capture_id})


def delete_blobs_later(
    jobs: JobQueue, *, keys: Sequence[str] = (), prefixes: Sequence[str] = ()
) -> None:
    """Ask for blobs no row refers to any more to be deleted. If the job is lost (a crash),
    they are orphans that ``capturehub fsck --repair`` removes."""
    jobs.enqueue(DELETE_BLOBS, {"keys": list(keys), "prefixes": list(prefixes)})


def free_version_files_later(jobs: JobQueue, originals: Sequence[str]) -> None:
    """Ask for the files of these originals (a deleted version's) to be deleted unless a
    capture or another version still uses them. If the job is lost, ``capturehub fsck
    --repair`` removes them as orphans."""
    jobs.enqueue(FREE_VERSION_FILES, {"originals": list(originals)})


def delete_blobs(blobs: BlobStore, keys: Sequence[str] = (), prefixes: Sequence[str] = ()) -> None:
    """The "delete blobs" job: each key, and every blob under each prefix."""
    for key in keys:
        blobs.delete(key)
    for prefix in prefixes:
        for key in list(blobs.list(prefix)):
            blobs.delete(key)
