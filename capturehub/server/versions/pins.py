"""Files a version pins are kept: the capture lifecycle asks here before deleting a capture's
files, and deleting a version frees (by the "free version files" job) the files no row
refers to any more.

A capture's stored file is the pair of blobs of one upload (original and columnar copy, see
storage_keys.py); a version refers to it by the original's key, and pins both.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from capturehub.server.context import AppContext
from capturehub.server.models import Capture, VersionCapture
from capturehub.server.storage_keys import CaptureFiles
from capturehub.server.versions.locks import share_files_lock

log = logging.getLogger("capturehub.versions")


def unpinned_keys(session: Session, project_id: int, original_key: str) -> list[str]:
    """The blob keys of the file whose original is ``original_key`` that may be deleted now
    that the capture no longer uses it: both, unless a version pins them (then none).

    Called in the transaction that stops the capture using the file, after its change: the
    lock orders it with versions being made (locks.py)."""
    share_files_lock(session, project_id)
    if is_pinned(session, original_key):
        return []
    return CaptureFiles.of(original_key).keys


def is_pinned(session: Session, original_key: str) -> bool:
    return bool(session.scalar(select(exists().where(VersionCapture.blob_key == original_key))))


def in_use(session: Session, original_key: str) -> bool:
    """Whether a capture or a version still refers to this file. Only the capture the key was
    made for can use it (keys hold the capture's uuid): one indexed look-up each."""
    capture_uuid = CaptureFiles.of(original_key).capture_uuid
    used = session.scalar(
        select(exists().where(and_(Capture.uuid == capture_uuid, Capture.blob_key == original_key)))
    )
    return bool(used) or is_pinned(session, original_key)


def free_version_files(context: AppContext, originals: Sequence[str]) -> None:
    """The "free version files" job: delete the files of these originals that neither a
    capture nor a version refers to (checked again now: the job may run late, or twice)."""
    for original in originals:
        with context.db.read(snapshot=False) as session:
            if in_use(session, original):
                continue
        for key in CaptureFiles.of(original).keys:
            context.blobs.delete(key)
    log.info("freed the files of %d captures no version pins any more", len(originals))
