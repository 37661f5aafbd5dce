"""A dataset version made while the project's row changes under its snapshot (PostgreSQL).

The version's REPEATABLE READ transaction locks the project row for its foreign key; an
upload or a finished processing job that updated that row after the snapshot was taken made
PostgreSQL refuse the lock ("could not serialize access due to concurrent update"), which
was a 500. The service now runs the transaction again; a refusal that lasts is a 503."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from capturehub.server.auth.service import Caller, create_user
from capturehub.server.context import AppContext
from capturehub.server.db import Database, upgrade
from capturehub.server.errors import database_condition
from capturehub.server.projects.schemas import ProjectCreate
from capturehub.server.projects.service import create_project
from capturehub.server.runtime import build_context
from capturehub.server.settings import Settings
from capturehub.server.versions import service
from capturehub.server.versions.locks import snapshot_session
from tests.conftest import require_backend
from tests.servers import create_postgres_database, drop_postgres_database


@pytest.fixture
def context(tmp_path: Path) -> Iterator[AppContext]:
    require_backend("postgresql")
    url = create_postgres_database()
    built = build_context(Settings(data_dir=tmp_path / "data", database_url=url, workers=0))
    upgrade(built.db.engine)
    try:
        yield built
    finally:
        built.db.dispose()
        drop_postgres_database(url)


def _project(context: AppContext) -> tuple[Caller, str, int]:
    with context.db.session() as session:
        user = create_user(session, "versioner", "password-1", "versions")
        caller = Caller(user_id=user.id, team_id=user.team_id, username=user.username)
        project = create_project(session, caller, ProjectCreate(name="changing"))
        return caller, project.uuid, project.id


def _changed_under_snapshots(
    monkeypatch: pytest.MonkeyPatch, context: AppContext, project_id: int, times: int
) -> list[int]:
    """Make the next ``times`` snapshots see the project row updated by another transaction
    right after they began; answers the list of snapshots entered (one int each)."""
    entered: list[int] = []

    @contextmanager
    def changing(db: Database, project: int) -> Iterator[Session]:
        with snapshot_session(db, project) as session:
            entered.append(project)
            session.execute(text("SELECT 1"))  # the snapshot is taken here
            if len(entered) <= times:
                # As a finished processing job does (captures/processing.py): the project
                # row locked FOR UPDATE, then updated, and committed.
                with db.engine.begin() as other:
                    row = {"id": project_id}
                    other.execute(text("SELECT id FROM project WHERE id = :id FOR UPDATE"), row)
                    other.execute(text("UPDATE project SET name = name WHERE id = :id"), row)
            yield session

    monkeypatch.setattr(service, "snapshot_session", changing)
    return entered


def test_a_version_is_made_again_when_the_project_changed_under_it(
    context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, project_uuid, project_id = _project(context)
    entered = _changed_under_snapshots(monkeypatch, context, project_id, times=2)
    version = service.create_version(context, caller, project_uuid, name="v1")
    assert version.name == "v1"
    assert len(entered) == 3  # refused twice, made the third time
    with context.db.read() as session:
        names = session.scalars(text("SELECT name FROM dataset_version")).all()
    assert names == ["v1"]


def test_a_refusal_that_lasts_is_a_503(
    context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, project_uuid, project_id = _project(context)
    entered = _changed_under_snapshots(monkeypatch, context, project_id, times=100)
    with pytest.raises(OperationalError) as refused:
        service.create_version(context, caller, project_uuid, name="v1")
    assert len(entered) == service.SNAPSHOT_ATTEMPTS
    assert "could not serialize" in str(refused.value.orig)
    assert database_condition(refused.value) == 503
