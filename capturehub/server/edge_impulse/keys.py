"""Who is calling an Edge Impulse route (a project key, ``x-api-key: ei_...``), and the
project's HMAC key that devices sign acquisition documents with."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capturehub.server.auth import secrets
from capturehub.server.auth.service import Caller
from capturehub.server.db import Database
from capturehub.server.errors import APIError
from capturehub.server.models import ApiKey, Project, ProjectSigningKey, Team, User

INVALID_KEY = "Invalid API key"


class InvalidKey(APIError):
    """A missing, unknown or revoked key (Edge Impulse's clients read this exact text)."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__(INVALID_KEY)


@dataclass(frozen=True)
class ProjectCaller:
    """A project key's user (for the lifecycle's team checks) and its one project."""

    caller: Caller
    project_id: int
    project_uuid: str
    project_name: str
    owner: str


def project_caller(db: Database, key: str | None) -> ProjectCaller:
    """The caller behind a project key, or :class:`InvalidKey`."""
    if not key or not key.startswith(secrets.PROJECT_KEY_PREFIX):
        raise InvalidKey()
    with db.read(snapshot=False) as session:
        row = session.execute(
            select(
                User.id,
                User.team_id,
                User.username,
                Project.id,
                Project.uuid,
                Project.name,
                Team.name,
            )
            .join(ApiKey, ApiKey.user_id == User.id)
            .join(Project, Project.id == ApiKey.project_id)
            .join(Team, Team.id == Project.team_id)
            .where(
                ApiKey.key_hash == secrets.hash_secret(key),
                ApiKey.revoked.is_(False),
                User.is_active,
                # The user may have moved team since: the key then opens nothing.
                Project.team_id == User.team_id,
            )
        ).first()
    if row is None:
        raise InvalidKey()
    return ProjectCaller(
        caller=Caller(user_id=row[0], team_id=row[1], username=row[2]),
        project_id=row[3],
        project_uuid=row[4],
        project_name=row[5],
        owner=row[6],
    )


def hmac_key(session: Session, project_id: int) -> str:
    """The project's HMAC key, made on first use (a concurrent first use gets the same)."""
    existing = session.scalar(
        select(ProjectSigningKey.hmac_key).where(ProjectSigningKey.project_id == project_id)
    )
    if existing is not None:
        return existing
    key = secrets.new_hmac_key()
    try:
        with session.begin_nested():
            session.add(ProjectSigningKey(project_id=project_id, hmac_key=key))
    except IntegrityError:
        made = session.scalar(
            select(ProjectSigningKey.hmac_key).where(ProjectSigningKey.project_id == project_id)
        )
        assert made is not None
        return made
    return key


def team_hmac_key(db: Database, caller: Caller, project_uuid: str) -> str:
    """The HMAC key of a project of the caller's team (a 404 for any other)."""
    from capturehub.server.projects.service import get_project

    with db.session() as session:
        project = get_project(session, caller, project_uuid)
        return hmac_key(session, project.id)
