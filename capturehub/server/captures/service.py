"""Capture rules on the database side: scoped lookups, the checks and row of an upload,
updates and deletion of rows.

The order of blob and row steps (the file committed before its row is inserted, rows deleted
before their files) is kept by the lifecycle in ``intake.py``, which calls these.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capturehub.ingest import IngestError
from capturehub.server.auth.service import Caller
from capturehub.server.captures.processing import (
    apply_measurement,
    measure_and_store,
    schema_mismatch,
)
from capturehub.server.context import AppContext
from capturehub.server.errors import BadRequest, Conflict, NotFound
from capturehub.server.models import RECORDING, Capture, CaptureConfiguration, Project, utcnow
from capturehub.server.names import validate_name
from capturehub.server.projects.service import get_project
from capturehub.server.storage_keys import CaptureFiles
from capturehub.server.versions.pins import unpinned_keys


class UploadHooks:
    """What a caller of the lifecycle adds to the transaction that inserts a new capture (the
    Edge Impulse routes: a name made unique, refusing a file the project holds, the sample's
    labels and metadata), so that all of it is kept or none of it.

    ``before_insert`` may change ``upload.name`` (with ``chooses_name``, the name is not checked
    for being taken beforehand) or raise to refuse; ``after_insert`` sees the inserted,
    measured capture. Either raising rolls the insert back and deletes the file.
    """

    chooses_name = False

    def before_insert(self, session: Session, project: Project, upload: NewCapture) -> None:
        return None

    def after_insert(self, session: Session, project: Project, capture: Capture) -> None:
        return None


@dataclass
class NewCapture:
    """A validated upload whose file is committed to the blob store under ``blob_key``."""

    capture_uuid: str
    name: str
    format: str
    blob_key: str
    file_size: int
    sha256: str
    set_sample_rate: float | None
    calculated_sample_rate: float | None
    configuration_uuid: str | None
    asynchronous: bool
    hooks: UploadHooks | None = None


def duplicate_name(name: str) -> Conflict:
    return Conflict(
        f"Project already contains a file with the name {name}",
        data={"name": [f"a capture named {name!r} already exists in this project"]},
    )


def get_capture(
    session: Session,
    caller: Caller,
    project_uuid: str,
    capture_uuid: str,
    *,
    for_update: bool = False,
) -> Capture:
    """The caller's capture, or a 404. ``for_update`` row-locks it (PostgreSQL) so that a
    concurrent delete or update waits for this transaction instead of racing it."""
    project = get_project(session, caller, project_uuid)
    query = select(Capture).where(Capture.uuid == capture_uuid, Capture.project_id == project.id)
    if for_update:
        query = query.with_for_update()
    capture = session.scalar(query)
    if capture is None:
        raise NotFound(f"Capture {capture_uuid} not found in project {project_uuid}.")
    return capture


def configuration_uuid_of(session: Session, capture: Capture) -> str | None:
    if capture.capture_configuration_id is None:
        return None
    return session.scalar(
        select(CaptureConfiguration.uuid).where(
            CaptureConfiguration.id == capture.capture_configuration_id
        )
    )


def resolve_configuration(session: Session, project: Project, uuid: str | None) -> int | None:
    if not uuid:
        return None
    configuration_id = session.scalar(
        select(CaptureConfiguration.id).where(
            CaptureConfiguration.uuid == uuid, CaptureConfiguration.project_id == project.id
        )
    )
    if configuration_id is None:
        raise BadRequest(
            f"Capture configuration {uuid} does not exist in this project.",
            data={"capture_configuration_uuid": ["unknown capture configuration"]},
        )
    return configuration_id


def check_upload(
    context: AppContext,
    caller: Caller,
    project_uuid: str,
    name: str,
    configuration: str | None,
    *,
    name_chosen_later: bool = False,
) -> None:
    """Cheap checks before the file is committed, so a doomed upload stores nothing."""
    validate_name(name, what="capture")
    with context.db.read() as session:
        project = get_project(session, caller, project_uuid)
        resolve_configuration(session, project, configuration)
        if not name_chosen_later and session.scalar(
            select(Capture.id).where(Capture.project_id == project.id, Capture.name == name)
        ):
            raise duplicate_name(name)


def store_upload(
    context: AppContext, caller: Caller, project_uuid: str, upload: NewCapture
) -> tuple[Capture, str | None]:
    """Insert the row for a committed upload (processing it first when not asynchronous).

    On any refusal the error propagates and the caller (the lifecycle's incoming file)
    deletes the upload's blobs.
    """
    measurement = None
    files = CaptureFiles.of(upload.blob_key)
    columnar_key = files.columnar
    if not upload.asynchronous:
        try:
            measurement = measure_and_store(context, files, upload.format)
        except IngestError as exc:
            raise BadRequest(str(exc), data={"file": [str(exc)]}) from exc
    with context.db.session() as session:
        project = get_project(session, caller, project_uuid)
        configuration_id = resolve_configuration(session, project, upload.configuration_uuid)
        if upload.hooks is not None:
            upload.hooks.before_insert(session, project, upload)
        capture = Capture(
            uuid=upload.capture_uuid,
            project_id=project.id,
            name=upload.name,
            format=upload.format,
            file_size=upload.file_size,
            sha256=upload.sha256,
            blob_key=upload.blob_key,
            set_sample_rate=upload.set_sample_rate,
            calculated_sample_rate=upload.calculated_sample_rate,
            capture_configuration_id=configuration_id,
            task_state="SENT",
        )
        if measurement is not None:
            mismatch = schema_mismatch(project, measurement)
            if mismatch:
                raise BadRequest(mismatch, data={"file": [mismatch]})
            apply_measurement(session, capture, project, measurement, columnar_key=columnar_key)
        session.add(capture)
        try:
            session.flush()
        except IntegrityError as exc:
            raise duplicate_name(upload.name) from exc
        count_captures(session, project.id, +1)
        if upload.hooks is not None:
            upload.hooks.after_insert(session, project, capture)
        return capture, upload.configuration_uuid


@dataclass
class CaptureChanges:
    name: str | None = None
    set_sample_rate: float | None = None
    calculated_sample_rate: float | None = None
    configuration_uuid: str | None = None
    fields: frozenset[str] = frozenset()
    # A replacement file, already committed to the blob store.
    new_blob_key: str | None = None
    new_format: str | None = None
    new_size: int = 0
    new_sha256: str = ""


def update_capture(
    context: AppContext,
    caller: Caller,
    project_uuid: str,
    capture_uuid: str,
    changes: CaptureChanges,
) -> tuple[Capture, str | None, list[str]]:
    """Apply changes; returns the capture, its configuration uuid and blob keys now unused."""
    with context.db.session() as session:
        # Locked: a delete racing this update then either finishes first (404 here) or waits
        # for our commit, instead of our UPDATE matching no row (StaleDataError, a 500).
        capture = get_capture(session, caller, project_uuid, capture_uuid, for_update=True)
        project = session.get(Project, capture.project_id)
        assert project is not None
        # The new name in a local: after a failed flush the session is rolled back and the
        # capture's attributes can no longer be read.
        new_name: str | None = None
        if changes.name is not None and changes.name != capture.name:
            name = new_name = validate_name(changes.name, what="capture")
            if session.scalar(
                select(Capture.id).where(Capture.project_id == project.id, Capture.name == name)
            ):
                raise duplicate_name(name)
            capture.name = name
        if "set_sample_rate" in changes.fields:
            capture.set_sample_rate = changes.set_sample_rate
        if "calculated_sample_rate" in changes.fields:
            capture.calculated_sample_rate = changes.calculated_sample_rate
        if "capture_configuration_uuid" in changes.fields:
            capture.capture_configuration_id = resolve_configuration(
                session, project, changes.configuration_uuid
            )
        unused: list[str] = []
        if changes.new_blob_key is not None and capture.task_state == RECORDING:
            raise Conflict(
                f"Capture {capture.name!r} is recording live; its file is made from its samples "
                "when it stops. Stop the recording first, then replace the file."
            )
        if changes.new_blob_key is not None:
            # The old file stays while a dataset version pins it.
            unused = unpinned_keys(session, project.id, capture.blob_key)
            capture.blob_key = changes.new_blob_key
            capture.format = changes.new_format or capture.format
            capture.file_size = changes.new_size
            capture.sha256 = changes.new_sha256
            capture.columnar_key = None
            capture.task_state = "SENT"
            capture.task_result = None
            capture.task_started_at = None
            capture.number_samples = None
            capture.max_sequence = None
            capture.schema = {}
            capture.statistics = {}
        capture.version += 1
        capture.last_modified = utcnow()
        try:
            session.flush()
        except IntegrityError as exc:  # a concurrent rename or upload took the name first
            raise duplicate_name(new_name or changes.name or "") from exc
        return capture, configuration_uuid_of(session, capture), unused


def delete_capture_row(
    context: AppContext, caller: Caller, project_uuid: str, capture_uuid: str
) -> list[str]:
    """Delete the capture's row; returns the blob keys of its file, now unused."""
    with context.db.session() as session:
        # Locked, so that the keys read are the ones deleted: a file replacement committing
        # in between would otherwise leave its new original behind (an orphan blob).
        capture = get_capture(session, caller, project_uuid, capture_uuid, for_update=True)
        project_id, original = capture.project_id, capture.blob_key
        session.execute(delete(Capture).where(Capture.id == capture.id))
        count_captures(session, project_id, -1)
        # The file stays while a dataset version pins it.
        keys = unpinned_keys(session, project_id, original)
    return keys


def count_captures(session: Session, project_id: int, change: int) -> None:
    """Keep ``project.capture_count`` in step, in the transaction that inserts or deletes.

    Done last in the transaction: on PostgreSQL the UPDATE locks the project's row until the
    commit, which serializes concurrent uploads to one project only for that last moment.
    """
    session.execute(
        update(Project)
        .where(Project.id == project_id)
        .values(capture_count=Project.capture_count + change)
        .execution_options(synchronize_session=False)
    )
