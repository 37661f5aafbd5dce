"""Consistency check between the database and the blob store (``capturehub fsck``).

Finds blobs that no capture references (left by a crash between storing a file and inserting
its row, or between deleting a row and its files), captures whose original file is missing,
processed captures whose columnar copy is missing, in any blob store (a folder, S3), and
files pinned by a dataset version that are missing (reported only: nothing can bring them
back; files a version pins are not orphans, whether or not a capture still uses them).
Processed captures without their plot pyramid are listed too (not a problem: the plot
computes from the columnar copy meanwhile), and ``repair`` builds them.
``repair`` deletes the orphan blobs,
marks captures without their original as FAILURE (their row and labels are kept), queues
captures without a columnar copy for processing again, and sets each project's
``capture_count`` (the capture list's count) back to the number of captures it holds, and each
metadata row's copy of its capture's ``created_at`` (the filtered list's order) back to it.
It also lists files and folders of the data directory that other local users may read, and
``repair`` makes them private (see permissions.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from capturehub.server import storage_keys
from capturehub.server.context import AppContext
from capturehub.server.models import (
    RECORDING,
    Capture,
    CaptureMetadataValue,
    DatasetVersion,
    Project,
    VersionCapture,
)
from capturehub.server.permissions import loose_paths, tighten
from capturehub.server.plots.building import build_plot_pyramid


@dataclass
class FsckReport:
    orphan_blobs: list[str] = field(default_factory=list)
    missing_originals: list[str] = field(default_factory=list)
    missing_columnar: list[str] = field(default_factory=list)
    # Processed captures without their plot pyramid (processed before pyramids existed, or
    # the job was lost): not counted in ``clean``, the plot computes from the columnar copy
    # meanwhile; --repair builds them.
    missing_plot_pyramids: list[str] = field(default_factory=list)
    # Originals pinned by a dataset version that are missing: "version name: capture name".
    missing_pinned: list[str] = field(default_factory=list)
    # Projects whose capture_count is not their number of captures: uuid -> (kept, actual).
    wrong_counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Metadata rows whose copy of their capture's created_at (the filtered list's order)
    # differs from the capture's.
    misdated_metadata: int = 0
    stale_temp_files: int = 0
    # Files and folders of the data directory that other local users may read (a warning:
    # not counted in ``clean``; --repair tightens them).
    loose_permissions: list[Path] = field(default_factory=list)
    repaired: bool = False

    @property
    def clean(self) -> bool:
        return not (
            self.orphan_blobs
            or self.missing_originals
            or self.missing_columnar
            or self.missing_pinned
            or self.wrong_counts
            or self.misdated_metadata
            or self.stale_temp_files
        )


def fsck(context: AppContext, *, repair: bool = False, min_age_seconds: float = 0) -> FsckReport:
    """Compare rows and blobs; blobs younger than ``min_age_seconds`` are left alone (an
    upload in flight stores its file a moment before its row)."""
    report = FsckReport()
    with context.db.read() as session:
        rows = session.execute(
            select(Capture.uuid, Capture.blob_key, Capture.columnar_key, Capture.task_state)
        ).all()
        report.wrong_counts = _wrong_counts(session)
        report.misdated_metadata = session.scalar(select(func.count()).where(_misdated())) or 0
        pinned = session.execute(
            select(VersionCapture.blob_key, DatasetVersion.name, VersionCapture.name).join(
                DatasetVersion, DatasetVersion.id == VersionCapture.version_id
            )
        ).all()
    # One listing of the store, not a request per row: on S3 a lab's hundreds of thousands
    # of captures would otherwise cost as many HEAD requests. Listed after the rows were read,
    # so a file stored before its row (an upload) is seen.
    stored = set(context.blobs.list(storage_keys.ROOT))
    referenced = set()
    for blob_key, version_name, capture_name in pinned:
        if blob_key not in referenced and blob_key not in stored:
            report.missing_pinned.append(f"{version_name}: {capture_name}")
        # Every file of the upload (the columnar copy may be made after the version).
        referenced.update(storage_keys.CaptureFiles.of(blob_key).keys)
    for uuid, blob_key, columnar_key, state in rows:
        referenced.add(blob_key)
        if state == RECORDING:
            continue  # recording live: its original is stored when it stops
        if blob_key not in stored:
            report.missing_originals.append(uuid)
        if columnar_key:
            referenced.add(columnar_key)
            pyramid = _plot_pyramid_key(blob_key)
            if pyramid is not None:
                referenced.add(pyramid)
            if state == "SUCCESS" and columnar_key not in stored:
                report.missing_columnar.append(uuid)
            elif state == "SUCCESS" and pyramid and pyramid not in stored:
                report.missing_plot_pyramids.append(uuid)
    now = time.time()
    for key in sorted(stored):
        if key in referenced:
            continue
        if min_age_seconds and now - context.blobs.modified_at(key) < min_age_seconds:
            continue
        report.orphan_blobs.append(key)
    # Uncommitted writes (on S3: multipart uploads neither completed nor aborted, left alone
    # for a day, see S3BlobStore) and scratch folders (a killed job's partial columnar copy).
    report.stale_temp_files = context.blobs.sweep_temporary(min_age_seconds, remove=repair)
    report.loose_permissions = loose_paths(context.settings.data_dir)
    if repair:
        tighten(report.loose_permissions)
        _repair(context, report)
    return report


def _plot_pyramid_key(blob_key: str) -> str | None:
    try:
        return storage_keys.CaptureFiles.of(blob_key).plot_pyramid
    except ValueError:
        return None


REPAIR_CHUNK = 1000


def _counted() -> Any:
    """Each project's number of captures, as a subquery correlated to ``project``."""
    return (
        select(func.count(Capture.id))
        .where(Capture.project_id == Project.id)
        .correlate(Project)
        .scalar_subquery()
    )


def _capture_created_at() -> Any:
    """The created_at of a metadata row's capture, as a subquery correlated to the row."""
    return (
        select(Capture.created_at)
        .where(Capture.id == CaptureMetadataValue.capture_id)
        .correlate(CaptureMetadataValue)
        .scalar_subquery()
    )


def _misdated() -> Any:
    return CaptureMetadataValue.capture_created_at != _capture_created_at()


def _wrong_counts(session: Session) -> dict[str, tuple[int, int]]:
    return {
        uuid: (kept, counted)
        for uuid, kept, counted in session.execute(
            select(Project.uuid, Project.capture_count, _counted())
        )
        if kept != counted
    }


def _repair(context: AppContext, report: FsckReport) -> None:
    for key in report.orphan_blobs:
        context.blobs.delete(key)
    with context.db.session() as session:
        # In slices: a repair after losing the blob folder names every capture, more than a
        # statement may carry parameters (PostgreSQL allows 65,535).
        missing = report.missing_originals
        for start in range(0, len(missing), REPAIR_CHUNK):
            session.execute(
                update(Capture)
                .where(Capture.uuid.in_(missing[start : start + REPAIR_CHUNK]))
                .values(
                    task_state="FAILURE",
                    task_result="The stored file of this capture is missing (found by "
                    "capturehub fsck); upload it again with update().",
                )
            )
        reprocess = sorted(set(report.missing_columnar) - set(missing))
        for start in range(0, len(reprocess), REPAIR_CHUNK):
            session.execute(
                update(Capture)
                .where(Capture.uuid.in_(reprocess[start : start + REPAIR_CHUNK]))
                .values(task_state="SENT", task_result=None, columnar_key=None)
            )
        if report.wrong_counts:  # counted again inside this transaction, not from the report
            session.execute(
                update(Project)
                .where(Project.uuid.in_(report.wrong_counts))
                .values(capture_count=_counted())
                .execution_options(synchronize_session=False)
            )
        if report.misdated_metadata:
            session.execute(
                update(CaptureMetadataValue)
                .where(_misdated())
                .values(capture_created_at=_capture_created_at())
                .execution_options(synchronize_session=False)
            )
    _build_plot_pyramids(context, report.missing_plot_pyramids)
    report.repaired = True


def _build_plot_pyramids(context: AppContext, capture_uuids: list[str]) -> None:
    """Built here and now, one after the other (this process may run no job queue)."""
    for uuid in capture_uuids:
        with context.db.read() as session:
            capture_id = session.scalar(select(Capture.id).where(Capture.uuid == uuid))
        if capture_id is not None:
            build_plot_pyramid(context, capture_id)
