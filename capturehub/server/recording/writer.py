"""The group commit in front of the recording tables: one writer thread per process stores
the batches waiting from every way in (WebSocket connections, the MQTT subscriber, HTTP
requests), of every recording, in one transaction, and resolves each batch's future only
after that transaction committed. An acknowledgement therefore still means "stored": a
``kill -9`` after it loses nothing.

Why: a transaction per batch cost about 7 ms of server CPU and wall time per acknowledged
batch (the capture, project and recording looked up through the ORM, the row inserted, the
counters updated, a commit, and a thread taken from the pool to wait for it), so the
server stored 100 to 150 batches a second on a loaded 2-core machine. In a group, the
recordings' rows are read with one query, the batches inserted with one ``executemany``
and the counters updated with another, and the commit (SQLite's fsync of the WAL, or a
PostgreSQL round trip) is paid once for all of them.

Order: submissions are taken first come, first served and each one's batches are stored in
their order, so a way in that sends one recording's batches one after the other (one
submission at a time per recording, as every way in does) has them stored in order. A
submission's batches (several, for a subscriber draining a backlog) are always in the same
transaction.

Failures: a refused batch (bad values, a seq going backwards, a stopped recording, someone
else's capture) is that batch's answer and does not touch the others. A transaction that
fails as a whole (the database away, a bug) fails every submission in it with the error,
after trying each submission alone once when the error is not the database's availability:
one bad submission cannot fail its neighbours twice.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from capturehub.server.context import AppContext
from capturehub.server.errors import APIError, BadRequest, Conflict, NotFound
from capturehub.server.models import Capture, Recording, RecordingBatch, utcnow
from capturehub.server.recording import samples
from capturehub.server.recording.schemas import BatchAck

log = logging.getLogger("capturehub.recording")

MAX_SEQ = 2**62
# Batches stored in one transaction at most (a group of 100 batches of 100 rows × 6
# channels is about 0.5 MB of values).
MAX_GROUP_BATCHES = 512
# A writer thread with nothing to do for this long ends (a new one starts with the next
# batch): a process with many application contexts (tests) does not keep idle threads.
IDLE_EXIT_SECONDS = 30.0

Outcome = BatchAck | APIError


class BadBatch(BadRequest):
    """A batch refused for its content or its seq (counted in the recording's bad_batches)."""


def not_recording(name: str, state: str) -> Conflict:
    return Conflict(
        f"Recording {name!r} is {state}; it takes no more batches. Start a new recording to go on."
    )


@dataclass(frozen=True)
class Target:
    """A recording a caller may append to (checked when it was looked up)."""

    capture_id: int
    project_id: int
    capture_uuid: str
    layout: samples.Layout


@dataclass
class Submission:
    """One recording's batches, stored in order in one transaction; the future's result is
    one outcome per batch (its :class:`BatchAck` or the :class:`APIError` refusing it)."""

    target: Target
    batches: Sequence[tuple[Any, Any]]  # (seq, rows)
    future: Future[list[Outcome]] = field(default_factory=Future)


@dataclass
class _Row:
    """A recording's counters as read in the transaction, advanced batch by batch."""

    project_id: int
    name: str
    state: str
    samples: int
    batches: int
    last_seq: int | None
    gaps: int
    bad_batches: int
    last_problem: str | None
    last_batch_at: datetime | None
    changed: bool = False
    stored_now: dict[int, tuple[int, int]] = field(default_factory=dict)


class Writer:
    """The writer thread of one application context and its queue."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.queue: deque[Submission] = deque()
        self.ready = threading.Condition(_registry_lock)
        self.pending = 0  # batches submitted and not answered yet
        self.thread = threading.Thread(target=self._run, daemon=True, name="capturehub-recorder")

    # Called with _registry_lock held.
    def put(self, submission: Submission) -> None:
        self.queue.append(submission)
        self.pending += len(submission.batches)
        self.ready.notify()

    def _take(self) -> list[Submission] | None:
        """The submissions waiting (at least one, at most MAX_GROUP_BATCHES batches in all,
        a submission never split), or None once idle long enough to end."""
        with self.ready:
            while not self.queue:
                if not self.ready.wait(IDLE_EXIT_SECONDS) and not self.queue:
                    _writers.pop(id(self.context), None)
                    return None
            group = [self.queue.popleft()]
            size = len(group[0].batches)
            while self.queue and size + len(self.queue[0].batches) <= MAX_GROUP_BATCHES:
                submission = self.queue.popleft()
                size += len(submission.batches)
                group.append(submission)
            return group

    def _run(self) -> None:
        while True:
            group = self._take()
            if group is None:
                return
            # A submission whose waiter gave up (a WebSocket closed: cancelling its wait
            # cancels the future) is not stored: nobody would ack it, and its client sends it
            # again after the hello. Once running, a future can no longer be cancelled.
            live = [s for s in group if s.future.set_running_or_notify_cancel()]
            try:
                if live:
                    self._store(live)
            except Exception:  # the thread must outlive anything: every waiter is answered
                log.exception("the recording writer failed")
                for submission in live:
                    if not submission.future.done():
                        submission.future.set_exception(RuntimeError("not stored"))
            finally:
                with _registry_lock:
                    self.pending -= sum(len(s.batches) for s in group)

    def _store(self, group: list[Submission]) -> None:
        try:
            outcomes = store_group(self.context, group)
        except (OperationalError, InterfaceError, PoolTimeout) as exc:
            # The database is away or locked: every submission fails with it, and its way in
            # sends it again (HTTP 5xx, the subscriber retrying, the WebSocket client
            # reconnecting), nothing having been acknowledged.
            for submission in group:
                submission.future.set_exception(exc)
            return
        except Exception as exc:
            if len(group) == 1:
                log.exception("could not store a recording's batches")
                group[0].future.set_exception(exc)
                return
            for submission in group:
                self._store([submission])
            return
        for submission, answers in zip(group, outcomes, strict=True):
            submission.future.set_result(answers)


_registry_lock = threading.Lock()
_writers: dict[int, Writer] = {}


def submit(context: AppContext, submission: Submission, *, limit: int | None = None) -> bool:
    """Queue a submission for the context's writer; False (nothing queued) when ``limit``
    batches or more are waiting already."""
    with _registry_lock:
        writer = _writers.get(id(context))
        if writer is None:
            writer = _writers[id(context)] = Writer(context)
            writer.thread.start()
        if limit is not None and writer.pending >= limit:
            return False
        writer.put(submission)
        return True


def pending(context: AppContext) -> int:
    """Batches queued or being stored in this process."""
    with _registry_lock:
        writer = _writers.get(id(context))
        return writer.pending if writer is not None else 0


# -- one transaction -------------------------------------------------------------------------


def checked(seq: Any, rows: Any, layout: samples.Layout) -> samples.Rows:
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        raise samples.BatchProblem(
            f"seq must be an integer from 0 to {MAX_SEQ}, not {str(seq)[:40]!r}"
        )
    return samples.checked_rows(rows, layout)


def store_group(context: AppContext, group: list[Submission]) -> list[list[Outcome]]:
    """Store the group's batches in one transaction; each submission's outcomes in order."""
    # Values are checked before the transaction: SQLite's write lock is held for less.
    prepared: list[list[samples.Rows | BadBatch]] = []
    for submission in group:
        layout = submission.target.layout
        answers: list[samples.Rows | BadBatch] = []
        for seq, rows in submission.batches:
            try:
                answers.append(checked(seq, rows, layout))
            except samples.BatchProblem as problem:
                message = f"Batch {str(seq)[:40]} refused: {problem}."
                answers.append(BadBatch(message, data={"values": [str(problem)]}))
        prepared.append(answers)
    ids = sorted({submission.target.capture_id for submission in group})
    results: list[list[Outcome]] = []
    with context.db.session() as session:
        if not context.db.is_sqlite:
            # Locked in the order stopping a recording takes them (its capture, then its
            # recording) and by id, so that neither a stop nor another server's writer can
            # deadlock with this one. (SQLite's BEGIN IMMEDIATE already lets one writer in.)
            session.execute(
                select(Capture.id).where(Capture.id.in_(ids)).order_by(Capture.id).with_for_update()
            )
        recordings = _read(session, ids)
        inserts: list[dict[str, Any]] = []
        now = utcnow()
        for submission, answers in zip(group, prepared, strict=True):
            target = submission.target
            row = recordings.get(target.capture_id)
            outcomes: list[Outcome] = []
            for (seq, _rows), values in zip(submission.batches, answers, strict=True):
                outcomes.append(_one(session, target, row, seq, values, inserts, now))
            results.append(outcomes)
        if inserts:
            session.execute(insert(_BATCHES), inserts)
        changed = [(capture_id, row) for capture_id, row in recordings.items() if row.changed]
        if changed:
            session.execute(
                _UPDATE, [_update_params(capture_id, row) for capture_id, row in changed]
            )
    return results


def _read(session: Session, ids: list[int]) -> dict[int, _Row]:
    query = (
        select(
            Recording.capture_id,
            Recording.state,
            Recording.samples,
            Recording.batches,
            Recording.last_seq,
            Recording.gaps,
            Recording.bad_batches,
            Recording.last_problem,
            Recording.last_batch_at,
            Capture.project_id,
            Capture.name,
        )
        .join(Capture, Capture.id == Recording.capture_id)
        .where(Recording.capture_id.in_(ids))
        .order_by(Recording.capture_id)  # rows locked in one order by every writer
        .with_for_update(of=Recording)
    )
    return {
        found.capture_id: _Row(
            project_id=found.project_id,
            name=found.name,
            state=found.state,
            samples=found.samples,
            batches=found.batches,
            last_seq=found.last_seq,
            gaps=found.gaps,
            bad_batches=found.bad_batches,
            last_problem=found.last_problem,
            last_batch_at=found.last_batch_at,
        )
        for found in session.execute(query)
    }


def _one(
    session: Session,
    target: Target,
    row: _Row | None,
    seq: Any,
    values: samples.Rows | BadBatch,
    inserts: list[dict[str, Any]],
    now: datetime,
) -> Outcome:
    """One batch's outcome, its row added to ``inserts`` and ``row``'s counters advanced."""
    if row is None or row.project_id != target.project_id:
        return NotFound(f"Capture {target.capture_uuid} is not a live recording.")
    if isinstance(values, BadBatch):
        if row.state == "recording":
            _count_bad(row, values.message)
        return values
    if row.state != "recording":
        return not_recording(row.name, row.state)
    last = row.last_seq
    if last is not None and seq <= last:
        stored = row.stored_now.get(seq)
        if stored is None:
            found = session.execute(
                select(RecordingBatch.first_sample, RecordingBatch.row_count).where(
                    RecordingBatch.capture_id == target.capture_id, RecordingBatch.seq == seq
                )
            ).first()
            stored = None if found is None else (found.first_sample, found.row_count)
        if stored is not None:
            return BatchAck(
                seq=seq,
                duplicate=True,
                samples=row.samples,
                last_seq=last,
                first_sample=stored[0],
                rows=stored[1],
            )
        message = (
            f"Batch {seq} refused: it comes after batch {last} and was never stored; "
            "sequence numbers must increase (a batch sent again with the seq it had is "
            "acknowledged, not stored twice)."
        )
        _count_bad(row, message)
        return BadBatch(message, data={"seq": [message]})
    first = row.samples
    count = int(values.shape[0])
    inserts.append(
        {
            "capture_id": target.capture_id,
            "seq": seq,
            "first_sample": first,
            "row_count": count,
            "data": samples.pack(values),
            "received_at": now,
        }
    )
    row.stored_now[seq] = (first, count)
    if last is not None and seq > last + 1:
        row.gaps += 1
    row.samples = first + count
    row.batches += 1
    row.last_seq = seq
    row.last_batch_at = now
    row.changed = True
    return BatchAck(
        seq=seq,
        duplicate=False,
        samples=first + count,
        last_seq=seq,
        first_sample=first,
        rows=count,
    )


def _count_bad(row: _Row, message: str) -> None:
    row.bad_batches += 1
    row.last_problem = message
    row.changed = True


_table = cast(Table, Recording.__table__)
_BATCHES = cast(Table, RecordingBatch.__table__)
_UPDATE = (
    update(_table)
    .where(_table.c.capture_id == bindparam("b_capture_id"))
    .values(
        samples=bindparam("b_samples"),
        batches=bindparam("b_batches"),
        last_seq=bindparam("b_last_seq"),
        gaps=bindparam("b_gaps"),
        bad_batches=bindparam("b_bad_batches"),
        last_problem=bindparam("b_last_problem"),
        last_batch_at=bindparam("b_last_batch_at"),
    )
)


def _update_params(capture_id: int, row: _Row) -> dict[str, Any]:
    return {
        "b_capture_id": capture_id,
        "b_samples": row.samples,
        "b_batches": row.batches,
        "b_last_seq": row.last_seq,
        "b_gaps": row.gaps,
        "b_bad_batches": row.bad_batches,
        "b_last_problem": row.last_problem,
        "b_last_batch_at": row.last_batch_at,
    }


def wait(submission: Submission) -> list[Outcome]:
    """A thread's wait for its submission (HTTP handlers, the MQTT subscriber)."""
    return submission.future.result()
