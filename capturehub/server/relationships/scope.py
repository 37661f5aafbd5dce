""" "The project (and capture) of this request, for this caller", as FastAPI dependencies.

A relationship route names a project (and a capture) in its path. :data:`ThisProject` and
:data:`ThisCapture` carry those ids with the caller; the route opens its session through them
and gets the rows looked up in that same session (a 404 for an id outside the caller's team
or project), so the lookup and the work share one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.auth.service import Caller
from capturehub.server.context import AppContext
from capturehub.server.models import Project
from capturehub.server.projects.service import get_project
from capturehub.server.relationships.resolve import CaptureRow, capture_of


@dataclass(frozen=True)
class ProjectScope:
    context: AppContext
    caller: Caller
    project_uuid: str

    @contextmanager
    def read(self) -> Iterator[tuple[Session, Project]]:
        with self.context.db.read() as session:
            yield session, get_project(session, self.caller, self.project_uuid)

    @contextmanager
    def write(self) -> Iterator[tuple[Session, Project]]:
        with self.context.db.session() as session:
            yield session, get_project(session, self.caller, self.project_uuid)


@dataclass(frozen=True)
class CaptureScope:
    context: AppContext
    caller: Caller
    project_uuid: str
    capture_uuid: str

    @contextmanager
    def read(self) -> Iterator[tuple[Session, Project, CaptureRow]]:
        with self.context.db.read() as session:
            yield session, *self._found(session)

    @contextmanager
    def write(self) -> Iterator[tuple[Session, Project, CaptureRow]]:
        with self.context.db.session() as session:
            yield session, *self._found(session)

    def _found(self, session: Session) -> tuple[Project, CaptureRow]:
        project = get_project(session, self.caller, self.project_uuid)
        return project, capture_of(session, project, self.capture_uuid)


# ``async``: it only reads the request, and FastAPI would run a plain ``def`` in a worker
# thread, a hop that costs more than the work (see ``context_dependency``, server/context.py).
async def _project_scope(
    project_uuid: str, caller: CurrentCaller, context: Context
) -> ProjectScope:
    return ProjectScope(context=context, caller=caller, project_uuid=project_uuid)


async def _capture_scope(
    project_uuid: str, capture_uuid: str, caller: CurrentCaller, context: Context
) -> CaptureScope:
    return CaptureScope(
        context=context, caller=caller, project_uuid=project_uuid, capture_uuid=capture_uuid
    )


# The path's project, for this caller: ``with project.read() as (session, project): ...``.
ThisProject = Annotated[ProjectScope, Depends(_project_scope)]
# The path's capture of the path's project, for this caller.
ThisCapture = Annotated[CaptureScope, Depends(_capture_scope)]
