"""Project rules: one name per team, scoped lookups. Deleting a project with its captures and
files is the capture lifecycle's (captures/intake.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capturehub.server.auth.service import Caller
from capturehub.server.errors import Conflict, NotFound
from capturehub.server.models import Project, utcnow
from capturehub.server.names import validate_name
from capturehub.server.projects.schemas import ProjectCreate, ProjectUpdate


def get_project(session: Session, caller: Caller, project_uuid: str) -> Project:
    """The caller's project, or a 404 (also for another team's project: never reveal it)."""
    project = session.scalar(
        select(Project).where(Project.uuid == project_uuid, Project.team_id == caller.team_id)
    )
    if project is None:
        raise NotFound(f"Project {project_uuid} not found.")
    return project


def list_projects(session: Session, caller: Caller) -> list[Project]:
    return list(
        session.scalars(
            select(Project).where(Project.team_id == caller.team_id).order_by(Project.created_at)
        )
    )


def _duplicate(name: str) -> Conflict:
    return Conflict(
        f"Your team already has a project named {name!r}.",
        data={"name": [f"project with this name already exists: {name}"]},
    )


def create_project(session: Session, caller: Caller, body: ProjectCreate) -> Project:
    name = validate_name(body.name, what="project")
    if session.scalar(
        select(Project.id).where(Project.team_id == caller.team_id, Project.name == name)
    ):
        raise _duplicate(name)
    project = Project(
        team_id=caller.team_id,
        name=name,
        description=body.description or "",
        settings=body.settings or {},
        plugin_config=body.plugin_config,
        capture_sample_schema=body.capture_sample_schema or {},
        lock_schema=bool(body.lock_schema),
    )
    session.add(project)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same name won the race
        raise _duplicate(name) from exc
    return project


def update_project(session: Session, project: Project, body: ProjectUpdate) -> Project:
    fields = body.model_fields_set
    if "name" in fields and body.name is not None and body.name != project.name:
        name = validate_name(body.name, what="project")
        if session.scalar(
            select(Project.id).where(Project.team_id == project.team_id, Project.name == name)
        ):
            raise _duplicate(name)
        project.name = name
    if "description" in fields and body.description is not None:
        project.description = body.description
    if "settings" in fields and body.settings is not None:
        project.settings = body.settings
    if "plugin_config" in fields:
        project.plugin_config = body.plugin_config
    if "capture_sample_schema" in fields and body.capture_sample_schema is not None:
        project.capture_sample_schema = body.capture_sample_schema
    if "lock_schema" in fields and body.lock_schema is not None:
        project.lock_schema = body.lock_schema
    project.last_modified = utcnow()
    try:
        session.flush()
    except IntegrityError as exc:
        raise _duplicate(project.name) from exc
    return project
