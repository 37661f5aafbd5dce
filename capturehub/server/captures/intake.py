"""The capture lifecycle: receiving a new upload, replacing a capture's file, deleting
captures. Every step that touches both the blob store and the database is here, in one
order that a crash at any point cannot turn into a lost capture:

1. the file is streamed to fresh keys (:class:`IncomingFile`); nothing is visible yet;
2. cheap checks (name, duplicate, configuration) refuse a doomed upload before anything is
   kept: the write is aborted;
3. the file is committed (durable, then visible under its key);
4. the row is inserted (or, for a replacement, pointed at the new file) in one transaction;
   when that fails the new blobs are deleted. A commit that fails may still have happened
   (the store took the request, then stopped answering), so a failed commit deletes the keys
   too; a store that does not answer leaves them to the "delete blobs" job;
5. the capture is queued for processing; if that is lost (or the broker does not answer),
   the housekeeping finds the row still SENT and queues it again. A broker known to be down
   refuses the upload at step 2 instead (503), so the client retries a clean upload.

A crash between 3 and 4 leaves an orphan blob, never a row without its file; ``capturehub
fsck --repair`` removes orphans. Deleting goes the other way round: rows first, then files
(directly, before answering; the "delete blobs" job retries what the store refused).

Routes parse HTTP and call :class:`CaptureLifecycle`; they never open, commit or abort a blob
writer, delete a blob, or make a key.

A capture recorded live (server/recording/) enters the same lifecycle in two steps: its row
is inserted first, without a file (``task_state`` RECORDING: processing, the housekeeping and
fsck leave it alone), and when it stops its original is streamed to fresh keys and committed
before the row points at it and turns SENT, from where it is processed like any upload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capturehub.server.auth.service import Caller
from capturehub.server.captures import service
from capturehub.server.context import AppContext
from capturehub.server.jobs import (
    build_plot_pyramid_later,
    delete_blobs,
    delete_blobs_later,
    process_capture_later,
)
from capturehub.server.models import RECORDING, Capture, Project, new_uuid, utcnow
from capturehub.server.names import validate_name
from capturehub.server.projects.service import get_project
from capturehub.server.storage_keys import CaptureFiles, project_prefix
from capturehub.server.versions.service import delete_project_versions
from capturehub.storage import BlobWriter, StoreUnavailable
from capturehub.tasks import QueueUnavailable

log = logging.getLogger("capturehub.captures")


@dataclass
class UploadDetails:
    """What a client says about a new capture besides its file (parsed from the form)."""

    name: str
    format: str
    set_sample_rate: float | None
    calculated_sample_rate: float | None
    configuration_uuid: str | None
    asynchronous: bool
    # Work done in the insert's transaction (see service.UploadHooks).
    hooks: service.UploadHooks | None = None


class IncomingFile:
    """A file on its way into the blob store under fresh keys.

    Used as a context manager around everything between receiving the bytes and handing them
    to the lifecycle: leaving it with an exception (a refused field, a client gone) drops the
    uncommitted write, so nothing is kept.
    """

    def __init__(self, context: AppContext, files: CaptureFiles) -> None:
        self._context = context
        self.files = files
        self._writer: BlobWriter | None = None
        # Set once the commit is asked for: from then on the file may be stored even if the
        # commit raised (an S3 complete call that timed out after the store had done it).
        self._maybe_committed = False

    def open_writer(self) -> BlobWriter:
        """The writer the upload's bytes are streamed into (called once, by the parser)."""
        self._writer = self._context.blobs.writer(self.files.original)
        return self._writer

    def commit(self) -> None:
        assert self._writer is not None, "no file was received"
        self._maybe_committed = True
        self._writer.commit()

    def discard(self) -> None:
        """Forget the file: abort the write, and delete its blobs once a commit was tried.

        Never raises for a store that does not answer: the blobs are then left to the "delete
        blobs" job (or, that lost too, to ``capturehub fsck --repair``), and the error that
        made us discard the file is the one the client hears.
        """
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.abort()  # after a commit it does nothing; after a failed one it may help
            except StoreUnavailable:
                log.warning("an upload to %s could not be aborted", self.files.original)
        if self._maybe_committed:
            self._maybe_committed = False
            forget_blobs(self._context, self.files.keys, f"upload {self.files.original}")

    def __enter__(self) -> IncomingFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.discard()


def forget_blobs(context: AppContext, keys: Sequence[str], owner: str) -> None:
    """Delete blobs no row refers to. A store that does not answer leaves them to the
    "delete blobs" job, and a broker that does not answer either to ``capturehub fsck
    --repair``: the caller's work is done either way, so nothing here raises for them."""
    if not keys:
        return
    try:
        delete_blobs(context.blobs, keys=keys)
    except StoreUnavailable:
        log.warning("%s: its files will be deleted later", owner)
        try:
            delete_blobs_later(context.jobs, keys=keys)
        except QueueUnavailable:
            log.warning("%s: its files are left for capturehub fsck --repair", owner)


class CaptureLifecycle:
    """Receive, replace and delete captures: blob keys, writes, rows and jobs, in order."""

    def __init__(self, context: AppContext) -> None:
        self._context = context

    # -- a new upload -------------------------------------------------------------------------

    def incoming_upload(self, caller: Caller, project_uuid: str) -> IncomingFile:
        """Keys for a new capture of the caller's project (a 404 for someone else's)."""
        with self._context.db.read() as session:
            project = get_project(session, caller, project_uuid)
            files = CaptureFiles.new(project.uuid, new_uuid())
        return IncomingFile(self._context, files)

    def receive(
        self,
        caller: Caller,
        project_uuid: str,
        incoming: IncomingFile,
        *,
        details: UploadDetails,
        file_size: int,
        sha256: str,
    ) -> tuple[Capture, str | None]:
        """Keep a received upload: check, commit, insert the row, queue processing.

        Returns the capture and its configuration's uuid. On any refusal nothing is kept.
        """
        with incoming:
            service.check_upload(
                self._context,
                caller,
                project_uuid,
                details.name,
                details.configuration_uuid,
                name_chosen_later=details.hooks is not None and details.hooks.chooses_name,
            )
            if details.asynchronous:
                # A broker that is down refuses the upload (503) before anything is kept, so
                # the client's retry is a clean new upload, not a duplicate of a kept one.
                self._context.jobs.check_available()
            incoming.commit()
            # A refused row leaves the file to `incoming`, which deletes it on the way out.
            capture, configuration = service.store_upload(
                self._context,
                caller,
                project_uuid,
                service.NewCapture(
                    capture_uuid=incoming.files.capture_uuid,
                    name=details.name,
                    format=details.format,
                    blob_key=incoming.files.original,
                    file_size=file_size,
                    sha256=sha256,
                    set_sample_rate=details.set_sample_rate,
                    calculated_sample_rate=details.calculated_sample_rate,
                    configuration_uuid=details.configuration_uuid,
                    asynchronous=details.asynchronous,
                    hooks=details.hooks,
                ),
            )
        self._queue_if_waiting(capture)
        return capture, configuration

    # -- changing a capture -------------------------------------------------------------------

    def incoming_replacement(
        self, caller: Caller, project_uuid: str, capture_uuid: str
    ) -> IncomingFile:
        """Keys for a new file of an existing capture, looked up first: an id that names no
        capture of the caller's (unknown, or not an id at all) is a 404 before anything is
        stored or any key made."""
        with self._context.db.read() as session:
            capture = service.get_capture(session, caller, project_uuid, capture_uuid)
            project_of_capture = session.scalar(
                select(Project.uuid).where(Project.id == capture.project_id)
            )
            assert project_of_capture is not None
            files = CaptureFiles.new(project_of_capture, capture.uuid)
        return IncomingFile(self._context, files)

    def change(
        self,
        caller: Caller,
        project_uuid: str,
        capture_uuid: str,
        changes: service.CaptureChanges,
        incoming: IncomingFile | None = None,
        *,
        new_format: str | None = None,
        file_size: int = 0,
        sha256: str = "",
    ) -> tuple[Capture, str | None]:
        """Apply field changes and, with ``incoming``, replace the capture's file.

        The new file is committed before the row points at it; the old file's blobs are
        deleted after. Returns the capture and its configuration's uuid.
        """
        if incoming is None:
            capture, configuration, unused = service.update_capture(
                self._context, caller, project_uuid, capture_uuid, changes
            )
        else:
            with incoming:
                changes.new_blob_key = incoming.files.original
                changes.new_format = new_format
                changes.new_size = file_size
                changes.new_sha256 = sha256
                self._context.jobs.check_available()  # as for a new upload
                incoming.commit()
                capture, configuration, unused = service.update_capture(
                    self._context, caller, project_uuid, capture_uuid, changes
                )
        # Row first, files second: a crash here leaves orphans (fsck), never a lost file.
        # The change is done once the row is: a store that does not answer now must not
        # turn it into an error, so the old files are left to the "delete blobs" job.
        forget_blobs(self._context, unused, f"capture {capture_uuid}")
        self._queue_if_waiting(capture)
        return capture, configuration

    # -- a live recording --------------------------------------------------------------------

    def begin_recording(
        self,
        caller: Caller,
        project_uuid: str,
        *,
        name: str,
        format: str,
        sample_rate: float,
        after_insert: Callable[[Session, Project, Capture], None],
    ) -> Capture:
        """Insert the row of a capture recorded live, with no file yet: ``task_state``
        RECORDING, ``blob_key`` the key its original would have (nothing is stored there
        until it stops, under fresh keys). ``after_insert`` adds what belongs to the same
        transaction (the recording's own row, its metadata)."""
        validate_name(name, what="capture")
        with self._context.db.session() as session:
            project = get_project(session, caller, project_uuid)
            if session.scalar(
                select(Capture.id).where(Capture.project_id == project.id, Capture.name == name)
            ):
                raise service.duplicate_name(name)
            capture_uuid = new_uuid()
            capture = Capture(
                uuid=capture_uuid,
                project_id=project.id,
                name=name,
                format=format,
                file_size=0,
                sha256="",
                blob_key=CaptureFiles.new(project.uuid, capture_uuid).original,
                set_sample_rate=sample_rate,
                task_state=RECORDING,
            )
            session.add(capture)
            try:
                session.flush()
            except IntegrityError as exc:  # a concurrent upload took the name first
                raise service.duplicate_name(name) from exc
            after_insert(session, project, capture)
            service.count_captures(session, project.id, +1)
        return capture

    def finish_recording(
        self,
        capture_id: int,
        write_original: Callable[[BlobWriter], tuple[int, str]],
        *,
        on_finish: Callable[[Session, Capture], bool],
    ) -> Capture | None:
        """Store a recording's original and make it an ordinary capture: the file streamed
        by ``write_original`` (which returns its size and sha256) to fresh keys and committed,
        then in one transaction the row points at it and turns SENT, and ``on_finish`` marks
        the recording stopped (returning False when another process finished it first: the
        file is then deleted and None returned). Processing is queued last."""
        with self._context.db.read() as session:
            row = session.execute(
                select(Capture.uuid, Project.uuid)
                .join(Project, Project.id == Capture.project_id)
                .where(Capture.id == capture_id)
            ).first()
        if row is None:
            return None
        incoming = IncomingFile(self._context, CaptureFiles.new(row[1], row[0]))
        with incoming:
            size, sha256 = write_original(incoming.open_writer())
            incoming.commit()
            with self._context.db.session() as session:
                capture = session.scalar(
                    select(Capture).where(Capture.id == capture_id).with_for_update()
                )
                finished = (
                    capture is not None
                    and capture.task_state == RECORDING
                    and on_finish(session, capture)
                )
                if finished and capture is not None:
                    capture.blob_key = incoming.files.original
                    capture.file_size = size
                    capture.sha256 = sha256
                    capture.task_state = "SENT"
                    capture.task_result = None
                    capture.version += 1
                    capture.last_modified = utcnow()
            if not finished or capture is None:
                incoming.discard()
                return None
        self._queue_if_waiting(capture)
        return capture

    # -- deleting -----------------------------------------------------------------------------

    def delete(self, caller: Caller, project_uuid: str, capture_uuid: str) -> None:
        """Delete one capture: its row, then its blobs."""
        keys = service.delete_capture_row(self._context, caller, project_uuid, capture_uuid)
        # The row is gone, so the capture is: its files go now or once the store answers.
        forget_blobs(self._context, keys, f"capture {capture_uuid}")

    def delete_project(self, caller: Caller, project_uuid: str) -> None:
        """Delete a project with its captures: the rows in one transaction, then every blob
        under the project's prefix, before answering (a client that saw the 204 may rely on
        the recordings being gone). If the store refuses, the "delete blobs" job tries again
        later; a crash in between leaves orphans that ``capturehub fsck --repair`` removes."""
        with self._context.db.session() as session:
            project = get_project(session, caller, project_uuid)
            prefix = project_prefix(project.uuid)
            delete_project_versions(session, project)
            session.execute(delete(Project).where(Project.id == project.id))
        try:
            delete_blobs(self._context.blobs, prefixes=[prefix])
        except (OSError, StoreUnavailable):
            log.warning("project %s: its files will be deleted later", project_uuid, exc_info=True)
            try:
                delete_blobs_later(self._context.jobs, prefixes=[prefix])
            except QueueUnavailable:
                log.warning("project %s: left for capturehub fsck --repair", project_uuid)

    def _queue_if_waiting(self, capture: Capture) -> None:
        if capture.task_state not in ("SENT", "SUCCESS"):
            return
        try:
            if capture.task_state == "SENT":
                process_capture_later(self._context.jobs, capture.id)
            else:  # processed during the upload (asynchronous=False): its plot pyramid
                build_plot_pyramid_later(self._context.jobs, capture.id)
        except QueueUnavailable:
            # Stored, and its row says SENT: the housekeeping queues it once the broker
            # answers (a missing plot pyramid: fsck --repair). The upload itself succeeded,
            # so the client is not told otherwise.
            log.warning("capture %s: the broker did not answer; queued later", capture.uuid)
