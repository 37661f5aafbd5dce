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

from capturehub.server.context import AppContext
from capturehub.server.models import Capture
from capturehub.server.plots.pyramid import Pyramid, write_pyramid_of_batches
from capturehub.server.plots.window import channels_of
from capturehub.server.storage_keys import CaptureFiles
from capturehub.storage import BlobNotFound, BlobStore
from capturehub.storage.arrow_blobs import batch_index, open_arrow_file

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


# Bytes fetched per ranged read of an object store's columnar copy, read in order.
READAHEAD_BYTES = 8 * 1024 * 1024


def store_pyramid(blobs: BlobStore, files: CaptureFiles) -> None:
    """Make the pyramid of ``files``' columnar copy in a scratch file and store it.

    The copy is read one record batch at a time, in place on local disk, by ranges from an
    object store: neither a whole download first nor a mapping of the whole file, whose pages
    counted in the worker's memory (a 1 GB CSV's pyramid took the worker 1 GB of RSS)."""
    with blobs.scratch_file("plot-pyramid.arrow") as out:
        reader = open_arrow_file(blobs, files.columnar, readahead=READAHEAD_BYTES)
        starts = batch_index(files.columnar, reader).starts.tolist()
        batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        write_pyramid_of_batches(reader.schema, batches, starts, channels_of(reader.schema), out)
        del reader, batches
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
