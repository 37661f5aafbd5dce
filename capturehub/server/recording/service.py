"""Live recording: a capture that grows batch by batch and, once stopped, is an ordinary
capture. Every way in (HTTP routes, the WebSocket, MQTT, ``capturehub record``) calls these
plain synchronous functions; they take the :class:`AppContext` and the :class:`Caller`.

Storage while recording: each acknowledged batch is a row of ``recording_batch`` (the
capture, its ``seq``, the index of its first sample, its row count and its values packed as
little-endian float64), inserted in the same transaction that advances the recording's
counters (``recording``: samples, last_seq, gaps, bad_batches). :func:`append_batch` returns
only after that transaction committed, so an acknowledged batch survives a ``kill -9`` of the
server; rows in the database work the same with several servers and with S3 storage (no
object is ever appended to). The capture's row exists from the start, with ``task_state``
RECORDING (shown on the wire as SENT with ``recording: true``, captures/schemas.py says why).

Sequence numbers: a batch carries a non-negative integer ``seq``. The first batch may start
anywhere; later ones must be higher than the last stored. A seq already stored is
acknowledged again (``duplicate: true``) and stored once, whatever its values: the first one
stored wins. A seq lower than the last stored that was never stored is refused
(:class:`BadBatch`). A seq that skips ahead (the sender lost batches) is stored and counted
in ``gaps``; no sample is invented for the missing ones. Bad batches (wrong column count,
values that are not finite numbers, a seq going backwards) are refused with a message and
counted in ``bad_batches`` (the last message kept in ``last_problem``).

Stopping: the recording turns "stopping" (later batches are refused, 409), its batches are
read in seq order and written as the canonical original (CSV, or 16-bit PCM WAV for audio,
samples.py) through the capture lifecycle, which commits the file, points the row at it
(SENT) and queues the usual processing (statistics, columnar copy, plot pyramid, all at
stop); the batches are deleted in that same transaction. A crash while stopping leaves it
"stopping": a second stop, or the housekeeping, finishes it. The housekeeping also stops
recordings idle for longer than their ``idle_timeout_seconds``.

Storing: the batches go through the process's writer (writer.py), which stores all those
waiting, of every recording, in one transaction (a group commit) and answers each after the
commit. Back-pressure: an HTTP batch finding ``recording_max_pending_batches`` batches
waiting is :class:`RecordingBusy` (503 with Retry-After); :func:`accepting_batches` lets the
route ask before it takes a thread. The WebSocket and MQTT bound what they hold themselves
(:func:`submit_batches`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from capturehub.server.auth.service import Caller
from capturehub.server.captures import service as captures
from capturehub.server.captures.intake import CaptureLifecycle
from capturehub.server.context import AppContext
from capturehub.server.errors import APIError, NotFound
from capturehub.server.models import (
    RECORDING,
    Capture,
    Project,
    Recording,
    RecordingBatch,
    utcnow,
)
from capturehub.server.projects.service import get_project
from capturehub.server.recording import samples, writer
from capturehub.server.recording.schemas import BatchAck, RecordingSpec, RecordingStatus
from capturehub.server.recording.writer import BadBatch, Target
from capturehub.server.relationships.resolve import CaptureRow
from capturehub.storage import BlobWriter

log = logging.getLogger("capturehub.recording")

# Batches read at once when assembling the original or reading samples.
READ_PAGE = 500
MAX_SEQ = writer.MAX_SEQ


class RecordingBusy(APIError):
    """This server stores as many batches as it may at once; retry after a moment."""

    status_code = 503

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(
            "The server is storing as many recording batches as it can; nothing was stored. "
            f"Send this batch again in {retry_after} s (Retry-After).",
            headers={"Retry-After": str(retry_after)},
        )


# -- back-pressure ---------------------------------------------------------------------------


def pending_batches(context: AppContext) -> int:
    """Batches this process is storing or has queued to store right now."""
    return writer.pending(context)


def accepting_batches(context: AppContext) -> bool:
    """Whether an HTTP batch would be admitted now."""
    return pending_batches(context) < context.settings.recording_max_pending_batches


# -- starting --------------------------------------------------------------------------------


def start_recording(
    context: AppContext, caller: Caller, project_uuid: str, spec: RecordingSpec
) -> RecordingStatus:
    """Create the capture (listed at once, as recording) and its recording."""
    timeout = spec.idle_timeout_seconds or context.settings.recording_idle_timeout_seconds
    channels = [{"name": c.name, "units": c.units} for c in spec.channels]

    def add_recording(session: Session, project: Project, capture: Capture) -> None:
        session.add(
            Recording(
                capture_id=capture.id,
                kind=spec.kind,
                channels=channels,
                sample_rate=spec.sample_rate,
                idle_timeout_seconds=timeout,
                state="recording",
                samples=0,
                batches=0,
                bad_batches=0,
                gaps=0,
            )
        )
        if spec.metadata:
            _set_metadata(session, project, capture, spec.metadata)

    capture = CaptureLifecycle(context).begin_recording(
        caller,
        project_uuid,
        name=spec.name,
        format=".wav" if spec.kind == "audio" else ".csv",
        sample_rate=spec.sample_rate,
        after_insert=add_recording,
    )
    return recording_status(context, caller, project_uuid, capture.uuid)


def _set_metadata(
    session: Session, project: Project, capture: Capture, metadata: dict[str, str]
) -> None:
    from capturehub.server.labels.service import ensure_label
    from capturehub.server.metadata.service import set_metadata

    for key in metadata:
        ensure_label(session, project, key, is_metadata=True)
    row = CaptureRow(
        id=capture.id,
        uuid=capture.uuid,
        name=capture.name,
        task_state=capture.task_state,
        task_result=capture.task_result,
        max_sequence=capture.max_sequence,
        created_at=capture.created_at,
    )
    set_metadata(
        session,
        project,
        [{"label": key, "label_value": value} for key, value in metadata.items()],
        single=False,
        capture=row,
    )


# -- appending -------------------------------------------------------------------------------


# A recording's layout never changes: kept once read, so that a batch's values are checked
# before its transaction begins. Keyed by the caller's team and the URL's project as well:
# a hit then means this team's access to this capture was checked when it was read (the
# writer checks in its transaction that the capture is still a recording of that project).
_layouts: dict[tuple[int, str, str], Target] = {}
_layouts_lock = threading.Lock()


def target_of(context: AppContext, caller: Caller, project_uuid: str, capture_uuid: str) -> Target:
    """The recording the caller appends to, or a 404 (read once, then kept)."""
    key = (caller.team_id, project_uuid, capture_uuid)
    with _layouts_lock:
        known = _layouts.get(key)
    if known is not None:
        return known
    with context.db.read() as session:
        capture = captures.get_capture(session, caller, project_uuid, capture_uuid)
        recording = _recording_of(session, capture)
        known = Target(capture.id, capture.project_id, capture.uuid, _layout(recording))
    with _layouts_lock:
        if len(_layouts) > 10_000:
            _layouts.clear()
        _layouts[key] = known
    return known


def _layout(recording: Recording) -> samples.Layout:
    return samples.Layout(
        channels=tuple(channel["name"] for channel in recording.channels), kind=recording.kind
    )


def _recording_of(session: Session, capture: Capture, *, for_update: bool = False) -> Recording:
    query = select(Recording).where(Recording.capture_id == capture.id)
    if for_update:
        query = query.with_for_update()
    recording = session.scalar(query)
    if recording is None:
        raise NotFound(f"Capture {capture.uuid} ({capture.name!r}) is not a live recording.")
    return recording


def append_batch(
    context: AppContext,
    caller: Caller,
    project_uuid: str,
    capture_uuid: str,
    seq: int,
    rows: Sequence[Sequence[float]] | Any,
) -> BatchAck:
    """Store one batch of rows (or acknowledge it again if its seq is stored); returns once
    it is committed. Raises :class:`BadBatch` (counted), a 409 for a stopped recording, a
    404 for someone else's capture, :class:`RecordingBusy` when
    ``recording_max_pending_batches`` batches are waiting to be stored already."""
    target = target_of(context, caller, project_uuid, capture_uuid)
    submission = writer.Submission(target, [(seq, rows)])
    if not writer.submit(context, submission, limit=context.settings.recording_max_pending_batches):
        raise RecordingBusy()
    (answer,) = submission.future.result()
    if isinstance(answer, APIError):
        raise answer
    return answer


def submit_batches(
    context: AppContext,
    target: Target,
    batches: Sequence[tuple[int, Sequence[Sequence[float]] | Any]],
) -> Future[list[BatchAck | APIError]]:
    """Queue batches of one recording (in order) for the writer without waiting: the
    future's result is each batch's ack or refusal, once committed. For the ways in that
    bound what they hold themselves (a WebSocket's window, MQTT's in-flight messages): no
    admission limit here. Send a recording's next batches after this future is done."""
    submission = writer.Submission(target, batches)
    writer.submit(context, submission)
    return submission.future


def append_batches(
    context: AppContext,
    caller: Caller,
    project_uuid: str,
    capture_uuid: str,
    batches: Sequence[tuple[int, Sequence[Sequence[float]] | Any]],
) -> list[BatchAck | BadBatch]:
    """Several batches of one recording, in order, in one transaction: each is stored,
    acknowledged again or refused (and counted) as :func:`append_batch` would do it, and its
    answer or refusal returned in its place; a 409 or 404 for the recording is raised."""
    target = target_of(context, caller, project_uuid, capture_uuid)
    answers: list[BatchAck | BadBatch] = []
    for answer in submit_batches(context, target, batches).result():
        if isinstance(answer, (BatchAck, BadBatch)):
            answers.append(answer)
        else:
            raise answer
    return answers


def _count_bad(context: AppContext, capture_id: int, message: str) -> None:
    with context.db.session() as session:
        session.execute(
            update(Recording)
            .where(Recording.capture_id == capture_id, Recording.state == "recording")
            .values(bad_batches=Recording.bad_batches + 1, last_problem=message)
        )


def count_bad_batch(
    context: AppContext, caller: Caller, project_uuid: str, capture_uuid: str, message: str
) -> None:
    """Count a batch a way in refused before it reached :func:`append_batch` (a packet
    failing its checksum, a body that is not JSON)."""
    known = target_of(context, caller, project_uuid, capture_uuid)
    _count_bad(context, known.capture_id, message)


# -- stopping --------------------------------------------------------------------------------


def stop_recording(
    context: AppContext, caller: Caller, project_uuid: str, capture_uuid: str
) -> RecordingStatus:
    """Stop it: store its original through the lifecycle and queue processing. Stopping a
    stopped recording answers its status again."""
    with context.db.session() as session:
        capture = captures.get_capture(session, caller, project_uuid, capture_uuid, for_update=True)
        recording = _recording_of(session, capture, for_update=True)
        _request_stop(recording, "client")
        capture_id, state = capture.id, recording.state
    if state == "stopping":
        _finish(context, capture_id)
    return recording_status(context, caller, project_uuid, capture_uuid)


def _request_stop(recording: Recording, why: str) -> None:
    if recording.state == "recording":
        recording.state = "stopping"
        recording.stop_requested_at = utcnow()
        recording.stopped_by = why


def _finish(context: AppContext, capture_id: int) -> None:
    """Assemble and store the original of a "stopping" recording (idempotent: a second
    process doing the same loses the race harmlessly, its file deleted)."""
    with context.db.read() as session:
        recording = session.get(Recording, capture_id)
        if recording is None or recording.state != "stopping":
            return
        layout, rate, total = _layout(recording), recording.sample_rate, recording.samples

    def write_original(writer: BlobWriter) -> tuple[int, str]:
        original = samples.Original()
        batches = _batches(context, capture_id, len(layout.channels))
        if layout.kind == "audio":
            chunks = samples.wav_chunks(layout, rate, total, batches)
        else:
            chunks = samples.csv_chunks(layout, batches)
        for chunk in original.counted(chunks):
            writer.write(chunk)
        return original.size, original.sha256

    def on_finish(session: Session, capture: Capture) -> bool:
        recording = session.scalar(
            select(Recording).where(Recording.capture_id == capture_id).with_for_update()
        )
        if recording is None or recording.state != "stopping":
            return False
        recording.state = "stopped"
        recording.stopped_at = utcnow()
        session.execute(delete(RecordingBatch).where(RecordingBatch.capture_id == capture_id))
        return True

    CaptureLifecycle(context).finish_recording(capture_id, write_original, on_finish=on_finish)


def _rows_query(
    capture_id: int, start: int, end: int | None, *, after: int
) -> Select[int, int, bytes]:
    """A page of the batches holding rows ``[start, end)`` after seq ``after``, in order."""
    query = (
        select(RecordingBatch.seq, RecordingBatch.first_sample, RecordingBatch.data)
        .where(
            RecordingBatch.capture_id == capture_id,
            RecordingBatch.seq > after,
            RecordingBatch.first_sample + RecordingBatch.row_count > start,
        )
        .order_by(RecordingBatch.seq)
        .limit(READ_PAGE)
    )
    if end is not None:
        query = query.where(RecordingBatch.first_sample < end)
    return query


def _batches(
    context: AppContext,
    capture_id: int,
    width: int,
    *,
    start: int = 0,
    end: int | None = None,
    after: int = -1,
) -> Iterator[samples.Rows]:
    """The stored batches in seq order (those holding rows ``[start, end)``, after seq
    ``after``), a page of them per read transaction."""
    while True:
        with context.db.read() as session:
            page = session.execute(_rows_query(capture_id, start, end, after=after)).all()
        for row in page:
            yield samples.unpack(row.data, width)
        if len(page) < READ_PAGE:
            return
        after = page[-1].seq


# -- reading ---------------------------------------------------------------------------------


def recording_status(
    context: AppContext, caller: Caller, project_uuid: str, capture_uuid: str
) -> RecordingStatus:
    with context.db.read() as session:
        capture = captures.get_capture(session, caller, project_uuid, capture_uuid)
        return _status(capture, _recording_of(session, capture))


def list_recordings(
    context: AppContext, caller: Caller, project_uuid: str, *, in_progress: bool = True
) -> list[RecordingStatus]:
    """The project's recordings, oldest first: those not stopped yet, or (``in_progress``
    False) all, stopped ones included."""
    with context.db.read() as session:
        project = get_project(session, caller, project_uuid)
        query = (
            select(Capture, Recording)
            .join(Recording, Recording.capture_id == Capture.id)
            .where(Capture.project_id == project.id)
            .order_by(Recording.started_at, Capture.id)
        )
        if in_progress:
            query = query.where(Recording.state != "stopped")
        return [_status(capture, recording) for capture, recording in session.execute(query)]


def _status(capture: Capture, recording: Recording) -> RecordingStatus:
    return RecordingStatus(
        uuid=capture.uuid,
        name=capture.name,
        kind=recording.kind,
        state=recording.state,
        channels=list(recording.channels),
        sample_rate=recording.sample_rate,
        samples=recording.samples,
        batches=recording.batches,
        last_seq=recording.last_seq,
        bad_batches=recording.bad_batches,
        gaps=recording.gaps,
        last_problem=recording.last_problem,
        idle_timeout_seconds=recording.idle_timeout_seconds,
        started_at=recording.started_at,
        last_batch_at=recording.last_batch_at,
        stopped_at=recording.stopped_at,
        stopped_by=recording.stopped_by,
        task_state=capture.task_state,
    )


@dataclass(frozen=True)
class StoredSamples:
    """The rows ``[start, end)`` of a recording in progress, and how many it holds."""

    table: pa.Table
    start: int
    total: int
    sample_rate: float


def stored_samples(
    context: AppContext, capture: Capture, start: int | None = None, end: int | None = None
) -> StoredSamples:
    """What a recording holds so far (for ``get_data()``, the samples route, plot windows),
    read from its batches; ``capture`` is the caller's, already looked up."""
    # One snapshot for the counters and the rows (a reader polls this several times a
    # second per live plot): the rows of one page of batches are read with them.
    pieces: list[samples.Rows] = []
    position: int | None = None
    with context.db.read() as session:
        found = session.execute(
            select(
                Recording.channels, Recording.kind, Recording.samples, Recording.sample_rate
            ).where(Recording.capture_id == capture.id)
        ).first()
        if found is None:
            raise NotFound(f"Capture {capture.uuid} is not a live recording.")
        layout = samples.Layout(
            channels=tuple(channel["name"] for channel in found.channels), kind=found.kind
        )
        total, rate = found.samples, found.sample_rate
        first = min(max(start or 0, 0), total)
        last = total if end is None else min(max(end, first), total)
        if last > first:
            page = session.execute(_rows_query(capture.id, first, last, after=-1)).all()
            if page:
                position = page[0].first_sample
                pieces = [samples.unpack(row.data, len(layout.channels)) for row in page]
                if len(page) == READ_PAGE:  # more than a page: the rest page by page
                    pieces += _batches(
                        context,
                        capture.id,
                        len(layout.channels),
                        start=first,
                        end=last,
                        after=page[-1].seq,
                    )
    if pieces and position is not None:
        rows = np.concatenate(pieces)[first - position : last - position]
    else:
        rows = np.empty((0, len(layout.channels)), dtype=np.float64)
    return StoredSamples(
        table=samples.table_of(rows, layout), start=first, total=total, sample_rate=rate
    )


# -- housekeeping ----------------------------------------------------------------------------


def stop_idle_recordings(context: AppContext) -> int:
    """Stop recordings that received no batch for their idle timeout, and finish those a
    crash left "stopping"; returns how many were finished. Run by the housekeeping (one
    process of the cluster at a time)."""
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=context.settings.stale_job_seconds)
    with context.db.read() as session:
        rows = session.execute(
            select(
                Recording.capture_id,
                Recording.state,
                Recording.idle_timeout_seconds,
                Recording.started_at,
                Recording.last_batch_at,
                Recording.stop_requested_at,
            ).where(Recording.state != "stopped")
        ).all()
    due: list[int] = []
    for row in rows:
        if row.state == "recording":
            since = _aware(row.last_batch_at or row.started_at)
            if now - since > timedelta(seconds=row.idle_timeout_seconds):
                due.append(row.capture_id)
        elif row.stop_requested_at is None or _aware(row.stop_requested_at) < stale:
            due.append(row.capture_id)
    finished = 0
    for capture_id in due:
        with context.db.session() as session:
            recording = session.scalar(
                select(Recording).where(Recording.capture_id == capture_id).with_for_update()
            )
            if recording is None:
                continue
            if recording.state == "recording":
                since = _aware(recording.last_batch_at or recording.started_at)
                if now - since <= timedelta(seconds=recording.idle_timeout_seconds):
                    continue  # a batch arrived meanwhile
                _request_stop(recording, "idle")
        try:
            _finish(context, capture_id)
            finished += 1
        except Exception:
            log.exception("could not stop recording of capture %s", capture_id)
    return finished


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def is_recording(capture: Capture) -> bool:
    return capture.task_state == RECORDING
