"""Turning a stored original into a measured capture: the job behind ``task_state``.

The capture row is the source of truth. A job *claims* a capture with one conditional UPDATE
(``SENT``, or ``STARTED`` by a worker whose lease ran out, becomes ``STARTED`` with a fresh
lease), measures the original with :mod:`capturehub.ingest`, stores the columnar copy and, in
one transaction, writes the summary and ``SUCCESS`` or ``FAILURE``. Running a job twice gives
the same result, so a queue may deliver it more than once.
"""

from __future__ import annotations

import errno
import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from capturehub.ingest import IngestError, Measurement, measure
from capturehub.server.context import AppContext
from capturehub.server.jobs import build_plot_pyramid_later
from capturehub.server.models import Capture, Project, utcnow
from capturehub.server.storage_keys import CaptureFiles
from capturehub.storage import StoreUnavailable
from capturehub.tasks import QueueUnavailable

log = logging.getLogger("capturehub.processing")


def schema_mismatch(project: Project, measurement: Measurement) -> str | None:
    """The message for an upload whose columns differ from a locked project schema."""
    locked = set(project.capture_sample_schema or {})
    if not project.lock_schema or not locked:
        return None
    columns = set(measurement.schema)
    if columns == locked:
        return None
    return (
        f"The file's columns {sorted(columns)} differ from the project's locked schema "
        f"{sorted(locked)}; rename the columns or unlock the project's schema (lock_schema)."
    )


def apply_measurement(
    session: Session,
    capture: Capture,
    project: Project,
    measurement: Measurement,
    *,
    columnar_key: str,
) -> None:
    """Write a successful measurement into the capture row and the project's schema."""
    capture.number_samples = measurement.number_samples
    capture.max_sequence = measurement.max_sequence
    capture.schema = measurement.schema
    capture.statistics = {
        channel: stats.to_dict() for channel, stats in measurement.statistics.items()
    }
    if capture.set_sample_rate is None and measurement.header_sample_rate:
        capture.set_sample_rate = measurement.header_sample_rate
    if measurement.calculated_sample_rate:
        capture.calculated_sample_rate = measurement.calculated_sample_rate
    capture.columnar_key = columnar_key
    capture.task_state = "SUCCESS"
    capture.task_result = None
    capture.last_modified = utcnow()
    merged = dict(project.capture_sample_schema or {})
    if any(column not in merged for column in measurement.schema):
        for column, description in measurement.schema.items():
            merged.setdefault(column, description)
        project.capture_sample_schema = merged


def measure_and_store(context: AppContext, files: CaptureFiles, fmt: str) -> Measurement:
    """Measure a stored original and store its columnar copy (made in a scratch file of the
    blob store, which removes it whatever happens)."""
    with context.blobs.scratch_file("columnar.arrow") as columnar_out:
        with context.blobs.local_copy(files.original) as original:
            measurement = measure(original, fmt, columnar_out=columnar_out)
        context.blobs.put_file(files.columnar, columnar_out)
    return measurement


def claim(context: AppContext, capture_id: int) -> bool:
    """Atomically take the capture for processing; False if it is done or taken."""
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=context.settings.stale_job_seconds)
    with context.db.session() as session:
        result = session.execute(
            update(Capture)
            .where(
                Capture.id == capture_id,
                or_(
                    Capture.task_state == "SENT",
                    (Capture.task_state == "STARTED") & (Capture.task_started_at < stale),
                ),
            )
            .values(task_state="STARTED", task_started_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class _Lease:
    """Renews the claim while a long file is processed, so nobody takes it over meanwhile."""

    def __init__(self, context: AppContext, capture_id: int) -> None:
        self._context = context
        self._capture_id = capture_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="capture-lease")

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = max(self._context.settings.stale_job_seconds / 4, 0.5)
        while not self._stop.wait(interval):
            try:
                with self._context.db.session() as session:
                    session.execute(
                        update(Capture)
                        .where(Capture.id == self._capture_id, Capture.task_state == "STARTED")
                        .values(task_started_at=datetime.now(UTC))
                    )
            except Exception:  # a missed renewal only risks a duplicate run, which is safe
                log.warning("could not renew the lease of capture %s", self._capture_id)


def process_capture(context: AppContext, capture_id: int) -> None:
    """The job: measure capture ``capture_id`` and record the outcome. Idempotent."""
    if not claim(context, capture_id):
        return
    context.claimed.add(capture_id)
    try:
        _process_claimed(context, capture_id)
    finally:
        context.claimed.discard(capture_id)


def release_claims(context: AppContext) -> int:
    """Hand the captures this process is still processing back to SENT; answer how many.

    For a stop that does not wait for running jobs (the demo's Ctrl-C): the next start
    queues them at once, where a claim left STARTED would wait for its lease to run out
    (CAPTUREHUB_STALE_JOB_SECONDS). A job that records its outcome first keeps it: only
    STARTED rows go back."""
    claimed = list(context.claimed)
    if not claimed:
        return 0
    with context.db.session() as session:
        result = session.execute(
            update(Capture)
            .where(Capture.id.in_(claimed), Capture.task_state == "STARTED")
            .values(task_state="SENT", task_started_at=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def _process_claimed(context: AppContext, capture_id: int) -> None:
    with context.db.read() as session:
        row = session.execute(
            select(Capture.blob_key, Capture.format).where(Capture.id == capture_id)
        ).first()
    if row is None:  # deleted meanwhile
        return
    blob_key, fmt = row
    files = CaptureFiles.of(blob_key)
    columnar_key = files.columnar
    failure: str | None = None
    measurement: Measurement | None = None
    with _Lease(context, capture_id):
        try:
            measurement = measure_and_store(context, files, fmt)
        except IngestError as exc:
            failure = str(exc)
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                # The server's condition, not the file's: give the capture back, to be
                # processed again once there is room (pending_captures).
                log.error("no space left to process capture %s: %s", capture_id, exc)
                _release(context, capture_id, blob_key)
                return
            if isinstance(exc, StoreUnavailable):
                # The object store is down: nothing wrong with the file. Back to SENT, to be
                # processed again by the housekeeping once the store answers.
                log.error("file storage unavailable processing capture %s: %s", capture_id, exc)
                _release(context, capture_id, blob_key, WAITING_FOR_STORAGE)
                return
            if not _still_current(context, capture_id, blob_key):
                # Its file went away under us (deleted, or replaced by a newer upload whose own
                # job runs), e.g. between two opens of it: nothing to record, nothing wrong.
                log.info("capture %s was deleted or replaced while processed", capture_id)
                return
            log.exception("processing capture %s failed", capture_id)
            failure = (
                "capturehub could not process this file because of an internal error; the "
                "server log has the details. Upload it again or report the problem."
            )
    try:
        keep_columnar = _record_outcome(
            context, capture_id, blob_key, measurement, failure, columnar_key
        )
    except BaseException:
        # Nothing refers to the columnar copy we just stored: delete it, leave no orphan.
        if measurement is not None:
            context.blobs.delete(columnar_key)
        raise
    if not keep_columnar and measurement is not None:
        context.blobs.delete(columnar_key)
    if keep_columnar:
        try:
            build_plot_pyramid_later(context.jobs, capture_id)
        except QueueUnavailable:  # the plot computes from the columnar copy meanwhile
            log.warning("capture %s: its plot pyramid is left for fsck --repair", capture_id)


SPACE_MARGIN = 1024 * 1024
WAITING_FOR_SPACE = (
    "Waiting: the server's disk was full when this capture was processed; it is processed "
    "again automatically once space is freed."
)


WAITING_FOR_STORAGE = (
    "Waiting: the server's file storage did not answer when this capture was processed; it "
    "is processed again automatically once it does."
)


def _release(
    context: AppContext, capture_id: int, blob_key: str, reason: str = WAITING_FOR_SPACE
) -> None:
    """Put a claimed capture back to SENT (unless it changed meanwhile), saying why."""
    with context.db.session() as session:
        session.execute(
            update(Capture)
            .where(
                Capture.id == capture_id,
                Capture.blob_key == blob_key,
                Capture.task_state == "STARTED",
            )
            .values(task_state="SENT", task_result=reason, task_started_at=None)
        )


def _still_current(context: AppContext, capture_id: int, blob_key: str) -> bool:
    """Whether the capture still exists with this file."""
    with context.db.read() as session:
        current = session.scalar(select(Capture.blob_key).where(Capture.id == capture_id))
    return current == blob_key


def _record_outcome(
    context: AppContext,
    capture_id: int,
    blob_key: str,
    measurement: Measurement | None,
    failure: str | None,
    columnar_key: str,
) -> bool:
    """Write SUCCESS or FAILURE in one transaction; True when the columnar copy is kept."""
    with context.db.session() as session:
        # Locked (PostgreSQL), so a concurrent delete or file replacement either committed
        # already (seen here) or waits for us; otherwise our UPDATE could match no row
        # (StaleDataError) or record a result for a file that is no longer the capture's.
        capture = session.scalar(select(Capture).where(Capture.id == capture_id).with_for_update())
        if capture is None or capture.blob_key != blob_key:
            return False  # deleted, or its file replaced while we worked: a newer job runs
        project = session.scalar(
            select(Project).where(Project.id == capture.project_id).with_for_update()
        )
        assert project is not None
        if measurement is not None and failure is None:
            failure = schema_mismatch(project, measurement)
        if failure is not None or measurement is None:
            capture.task_state = "FAILURE"
            capture.task_result = failure
            capture.last_modified = utcnow()
            return False
        apply_measurement(session, capture, project, measurement, columnar_key=columnar_key)
        return True


def pending_captures(context: AppContext) -> list[int]:
    """Captures a crash or a lost queue message left unprocessed, and those waiting for disk
    space once the data folder looks to have room for them."""
    stale = datetime.now(UTC) - timedelta(seconds=context.settings.stale_job_seconds)
    with context.db.read() as session:
        rows = session.execute(
            select(Capture.id, Capture.task_result, Capture.file_size)
            .where(
                or_(
                    Capture.task_state == "SENT",
                    (Capture.task_state == "STARTED") & (Capture.task_started_at < stale),
                )
            )
            .order_by(Capture.id)
        ).all()
    free = context.blobs.free_space()
    # A waiting capture is tried again only when its columnar copy is likely to fit (numbers
    # take up to about four times their CSV text): parsing it again on every pass while the
    # disk stays full would use the room other requests need.
    return [
        row.id
        for row in rows
        if row.task_result != WAITING_FOR_SPACE
        or free is None
        or free > 4 * row.file_size + SPACE_MARGIN
    ]
