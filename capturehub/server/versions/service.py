"""Dataset versions: make, list, read and delete them (routes translate HTTP to these).

A version is made in one transaction that sees one moment of the project (locks.py), so each
capture in it is whole: its file, metadata and segments of that moment, whatever uploads,
deletes and edits run meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased
from starlette.datastructures import QueryParams

from capturehub.server.auth.service import Caller
from capturehub.server.captures.query import CaptureListQuery
from capturehub.server.context import AppContext
from capturehub.server.errors import BadRequest, Conflict, NotFound, is_serialization_failure
from capturehub.server.jobs import free_version_files_later
from capturehub.server.metadata.filters import PREFIX
from capturehub.server.models import (
    Capture,
    DatasetVersion,
    Project,
    VersionCapture,
    VersionMetadata,
    VersionSegment,
)
from capturehub.server.names import validate_name
from capturehub.server.projects.service import get_project
from capturehub.server.versions import snapshot
from capturehub.server.versions.locks import exclusive_files_lock, snapshot_session
from capturehub.tasks import QueueUnavailable

log = logging.getLogger("capturehub.versions")

MAX_VERSION_NAME = 255
# The capture list's parameters a version's ``where`` may hold, besides metadata.<key>[__op].
WHERE_KEYS = ("name", "name__contains", "task_state", "format")
CHUNK = 1000


def parse_where(where: Any) -> tuple[dict[str, str], CaptureListQuery]:
    """The filters of a version (the capture list's query parameters as a JSON object), as
    stored and as a query; a 400 naming an unknown key or a bad value."""
    if where is None:
        where = {}
    if not isinstance(where, Mapping):
        raise BadRequest(
            "where must be a JSON object of capture-list filters, e.g. "
            '{"metadata.Subject": "S01", "task_state": "SUCCESS"}.',
            data={"where": ["expected an object"]},
        )
    params: dict[str, str] = {}
    for key, value in where.items():
        if key not in WHERE_KEYS and not (isinstance(key, str) and key.startswith(PREFIX)):
            message = (
                f"Unknown filter key {key!r}; use {', '.join(WHERE_KEYS)} or "
                f"{PREFIX}<key>[__in|__gt|__gte|__lt|__lte|__exists]."
            )
            raise BadRequest(message, data={"where": [message]})
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            message = f"The filter {key!r} takes a text or a number, not {value!r}."
            raise BadRequest(message, data={"where": [message]})
        params[key] = value if isinstance(value, str) else str(value)
    return params, CaptureListQuery.of(QueryParams(params))


def create_version(
    context: AppContext,
    caller: Caller,
    project_uuid: str,
    *,
    name: Any,
    description: Any = "",
    where: Any = None,
) -> DatasetVersion:
    with context.db.read(snapshot=False) as session:
        project_id = get_project(session, caller, project_uuid).id
    if not isinstance(name, str):
        raise BadRequest(
            'name is required: the version\'s name, e.g. "v1".', data={"name": ["required"]}
        )
    validate_name(name, what="version")
    if len(name) > MAX_VERSION_NAME:
        message = (
            f"The version name is {len(name)} characters long; the limit is {MAX_VERSION_NAME}."
        )
        raise BadRequest(message, data={"name": [message]})
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise BadRequest("description must be a text.", data={"description": ["expected a text"]})
    filters, query = parse_where(where)
    for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
        try:
            return _make_version(
                context, caller, project_uuid, project_id, name, description, filters, query
            )
        except OperationalError as exc:
            # PostgreSQL's REPEATABLE READ refuses to lock a row that changed after the
            # snapshot was taken (the version's foreign key locks the project row, which an
            # upload or a finished processing job updates meanwhile): the documented answer
            # is to run the transaction again. After the last attempt the error handler
            # answers 503 with Retry-After (errors.py: a serialization failure is transient).
            if not is_serialization_failure(exc) or attempt == SNAPSHOT_ATTEMPTS:
                raise
            log.info("version %r: the project changed under its snapshot, again", name)
    raise AssertionError("unreachable")


# How many times a version's snapshot transaction is run when PostgreSQL refuses it.
SNAPSHOT_ATTEMPTS = 4


def _make_version(
    context: AppContext,
    caller: Caller,
    project_uuid: str,
    project_id: int,
    name: str,
    description: str,
    filters: dict[str, str],
    query: CaptureListQuery,
) -> DatasetVersion:
    with snapshot_session(context.db, project_id) as session:
        get_project(session, caller, project_uuid)  # still there
        if session.scalar(
            select(DatasetVersion.id).where(
                DatasetVersion.project_id == project_id, DatasetVersion.name == name
            )
        ):
            raise _duplicate(name)
        version = DatasetVersion(
            project_id=project_id, name=name, description=description, where=filters
        )
        session.add(version)
        try:
            session.flush()
        except IntegrityError as exc:
            raise _duplicate(name) from exc
        snapshot.copy_rows(session, version, project_id, query)
        snapshot.summarize(session, version)
        session.refresh(version)
        return version


def _duplicate(name: str) -> Conflict:
    return Conflict(
        f"The project already has a version named {name!r}; version names are never reused "
        "(delete it first, or choose another name).",
        data={"name": [f"a version named {name!r} exists"]},
    )


def list_versions(session: Session, caller: Caller, project_uuid: str) -> list[DatasetVersion]:
    project = get_project(session, caller, project_uuid)
    return list(
        session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.project_id == project.id)
            .order_by(DatasetVersion.created_at, DatasetVersion.id)
        )
    )


def get_version(
    session: Session, caller: Caller, project_uuid: str, version: str
) -> DatasetVersion:
    """The project's version named ``version`` (or with that uuid), or a 404."""
    project = get_project(session, caller, project_uuid)
    found = session.scalars(
        select(DatasetVersion).where(
            DatasetVersion.project_id == project.id,
            or_(DatasetVersion.name == version, DatasetVersion.uuid == version),
        )
    ).all()
    if not found:
        raise NotFound(f"Version {version!r} not found in project {project_uuid}.")
    # A name that is also another version's uuid: the name wins.
    return next((item for item in found if item.name == version), found[0])


def delete_version(context: AppContext, caller: Caller, project_uuid: str, name: str) -> None:
    """Delete the version's rows; then free (a job) the files it alone kept."""
    with context.db.session() as session:
        version = get_version(session, caller, project_uuid, name)
        exclusive_files_lock(session, version.project_id)
        freed = list(session.scalars(_freed_files(version.id)))
        delete_rows(session, [version.id])
    if freed:
        try:
            free_version_files_later(context.jobs, freed)
        except QueueUnavailable:
            # The version is gone; its files are orphans that fsck --repair removes.
            log.warning("version %s: its %d files are left for capturehub fsck", name, len(freed))


def _freed_files(version_id: int) -> Any:
    """The originals the version pins that no capture and no other version uses: set-based,
    as a version may pin 100,000 files. Only the capture a key was made for can use it."""
    mine = aliased(VersionCapture)
    other = aliased(VersionCapture)
    return (
        select(mine.blob_key)
        .where(mine.version_id == version_id)
        .where(
            ~exists().where(other.blob_key == mine.blob_key, other.version_id != version_id),
            ~exists().where(Capture.id == mine.capture_id, Capture.blob_key == mine.blob_key),
        )
        .distinct()
    )


def delete_rows(session: Session, version_ids: list[int]) -> None:
    """Delete versions and every row they hold (their tables have no foreign keys to cascade
    by: see models.py)."""
    if not version_ids:
        return
    rows = select(VersionCapture.id).where(VersionCapture.version_id.in_(version_ids))
    for table in (VersionSegment, VersionMetadata):
        session.execute(
            delete(table)
            .where(table.version_capture_id.in_(rows))
            .execution_options(synchronize_session=False)
        )
    session.execute(
        delete(VersionCapture)
        .where(VersionCapture.version_id.in_(version_ids))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(DatasetVersion)
        .where(DatasetVersion.id.in_(version_ids))
        .execution_options(synchronize_session=False)
    )


def delete_project_versions(session: Session, project: Project) -> None:
    """Before a project is deleted: its versions' rows (its files go with the project's)."""
    delete_rows(
        session,
        list(
            session.scalars(
                select(DatasetVersion.id).where(DatasetVersion.project_id == project.id)
            )
        ),
    )
