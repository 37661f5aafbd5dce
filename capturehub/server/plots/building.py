"""The "build plot pyramid" job: a processed capture's min/max pyramid (pyramid.py), stored
beside its columnar copy under ``CaptureFiles.plot_pyramid``.

Queued when processing succeeds; running it twice, or for a capture deleted or replaced
meanwhile, leaves one pyramid of the current file or none. Until it has run (and for captures
processed before pyramids existed) the window route computes from the columnar copy, which
is slower on long windows but gives the same answer; ``capturehub fsck --repair`` queues the
job for every processed capture without its pyramid.
"""

from __future__ import annotations

import logging

import pyarrow as pa
from sqlalchemy import select

from capturehub.ingest import read_columnar
from capturehub.server.context import AppContext
from capturehub.server.models import Capture
from capturehub.server.plots.arrow_blobs import open_arrow_file
from capturehub.server.plots.pyramid import Pyramid, write_pyramid
from capturehub.server.plots.window import channels_of
from capturehub.server.storage_keys import CaptureFiles
from capturehub.storage import BlobNotFound, BlobStore

log = logging.getLogger("capturehub.plots")


def build_plot_pyramid(context: AppContext, capture_id: int) -> None:
    """The job. Idempotent; does nothing for a capture that is not (or no longer) processed."""
    current = _processed_file(context, capture_id)
    if current is None:
        return
    files = CaptureFiles.of(current)
    if context.blobs.exists(files.plot_pyramid):
        return
    try:
        store_pyramid(context.blobs, files)
    except BlobNotFound:
        return  # the columnar copy went away: the capture was deleted or replaced
    if _processed_file(context, capture_id) != current:
        # Deleted or replaced while we worked; its cleanup may have run before our file was
        # stored, so ours is removed here (fsck --repair would find it otherwise).
        context.blobs.delete(files.plot_pyramid)


def store_pyramid(blobs: BlobStore, files: CaptureFiles) -> None:
    """Make the pyramid of ``files``' columnar copy in a scratch file and store it."""
    with blobs.scratch_file("plot-pyramid.arrow") as out:
        with blobs.local_copy(files.columnar) as columnar_path:
            columnar = read_columnar(columnar_path)
            write_pyramid(columnar, channels_of(columnar.schema), out)
            del columnar  # before a remote store removes its temporary copy
        blobs.put_file(files.plot_pyramid, out)


def _processed_file(context: AppContext, capture_id: int) -> str | None:
    """The original's key of a capture processed from it, else None."""
    with context.db.read() as session:
        row = session.execute(
            select(Capture.blob_key, Capture.columnar_key, Capture.task_state).where(
                Capture.id == capture_id
            )
        ).first()
    if row is None or row.task_state != "SUCCESS" or not row.columnar_key:
        return None
    if row.columnar_key != CaptureFiles.of(row.blob_key).columnar:
        return None
    return str(row.blob_key)


def open_pyramid(blobs: BlobStore, files: CaptureFiles) -> Pyramid | None:
    """The capture's stored pyramid, or None when it has none (not built yet)."""
    try:
        return Pyramid(open_arrow_file(blobs, files.plot_pyramid))
    except BlobNotFound:
        return None
    except (pa.ArrowException, ValueError, KeyError):
        # Unreadable (a format from another version): the samples still give the answer.
        log.warning("ignoring the unreadable plot pyramid %s", files.plot_pyramid, exc_info=True)
        return None
