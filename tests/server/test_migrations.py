"""The migrations build exactly the schema the models describe, on each database."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, insert, select
from sqlalchemy.orm import Session

from capturehub.server.db import alembic_config, make_engine, upgrade
from capturehub.server.models import Base, Capture, CaptureConfiguration, CaptureMetadataValue
from tests.conftest import REPO_ROOT, RunningServer, require_backend
from tests.servers import create_postgres_database, drop_postgres_database


def test_the_migrated_schema_matches_the_models(server: RunningServer) -> None:
    context = server.process.context()  # upgraded to head, as the server does at start
    try:
        with context.db.engine.connect() as connection:
            migration = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            differences = compare_metadata(migration, Base.metadata)
    finally:
        context.db.dispose()
    assert differences == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_metadata_rows_get_their_capture_s_created_at(backend: str, tmp_path: Path) -> None:
    """Migration 0004 on a database that already holds metadata: each row gets its capture's
    created_at, and the filtered list reads them in the captures' order."""
    require_backend(backend)
    url = create_postgres_database() if backend == "postgresql" else f"sqlite:///{tmp_path}/db"
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(engine), "0003")
        tables = MetaData()
        tables.reflect(engine)
        now = datetime(2026, 1, 1, tzinfo=UTC)
        stamps = {"created_at": now, "last_modified": now}
        created = [now - timedelta(days=day) for day in range(3)]  # newest first
        with engine.begin() as connection:

            def add(table: str, **values: Any) -> int:
                row = {"uuid": str(uuid.uuid4()), **stamps, **values}
                statement = insert(tables.tables[table]).returning(tables.tables[table].c.id)
                return int(connection.execute(statement, row).scalar_one())

            team = add("team", name="lab")
            project = add(
                "project",
                team_id=team,
                name="p",
                description="",
                settings={},
                capture_sample_schema={},
                lock_schema=False,
            )
            key = add(
                "label",
                project_id=project,
                name="Subject",
                type="string",
                is_dropdown=True,
                is_metadata=True,
            )
            value = add("label_value", label_id=key, value="S01", color="#000000")
            for index, when in enumerate(created):
                capture = add(
                    "capture",
                    project_id=project,
                    name=f"c{index}.csv",
                    format=".csv",
                    file_size=1,
                    sha256="0" * 64,
                    blob_key=f"k{index}",
                    version=1,
                    task_state="SUCCESS",
                    schema={},
                    statistics={},
                    **{**stamps, "created_at": when},
                )
                add(
                    "capture_metadata_value", capture_id=capture, label_id=key, label_value_id=value
                )
        upgrade(engine)
        with Session(engine) as session:
            rows = session.execute(
                select(CaptureMetadataValue.capture_created_at, Capture.created_at)
                .join(Capture, Capture.id == CaptureMetadataValue.capture_id)
                .order_by(CaptureMetadataValue.capture_created_at)
            ).all()
        # SQLite gives back naive datetimes (UTC), PostgreSQL aware ones.
        naive = [copied.replace(tzinfo=None) for copied, _ in rows]
        assert naive == [when.replace(tzinfo=None) for when in sorted(created)]
        assert all(copied == original for copied, original in rows)
        command.downgrade(alembic_config(engine), "0003")  # and back again
        upgrade(engine)
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_postgres_database(url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_configurations_get_their_team_and_captures_keep_them(backend: str, tmp_path: Path) -> None:
    """Migration 0005 on a database with configurations used by captures: each configuration
    gets its project's team, every capture keeps its configuration (SQLite rebuilds the table:
    with foreign keys on, that would have set the captures' link to NULL), and afterwards two
    teams may hold the same uuid."""
    require_backend(backend)
    url = create_postgres_database() if backend == "postgresql" else f"sqlite:///{tmp_path}/db"
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(engine), "0004")
        tables = MetaData()
        tables.reflect(engine)
        now = datetime(2026, 1, 1, tzinfo=UTC)
        stamps = {"created_at": now, "last_modified": now}
        with engine.begin() as connection:

            def add(table: str, **values: Any) -> int:
                row = {"uuid": str(uuid.uuid4()), **stamps, **values}
                statement = insert(tables.tables[table]).returning(tables.tables[table].c.id)
                return int(connection.execute(statement, row).scalar_one())

            teams = [add("team", name=name) for name in ("lab", "rivals")]
            projects = [
                add(
                    "project",
                    team_id=team,
                    name="p",
                    description="",
                    settings={},
                    capture_sample_schema={},
                    lock_schema=False,
                )
                for team in teams
            ]
            configurations = [
                add("capture_configuration", project_id=project, name="c", configuration={})
                for project in projects
            ]
            for index, configuration in enumerate(configurations):
                add(
                    "capture",
                    project_id=projects[index],
                    name="c.csv",
                    format=".csv",
                    file_size=1,
                    sha256="0" * 64,
                    blob_key=f"k{index}",
                    version=1,
                    task_state="SUCCESS",
                    schema={},
                    statistics={},
                    capture_configuration_id=configuration,
                )
        upgrade(engine)
        with Session(engine) as session:
            links = session.execute(
                select(Capture.project_id, Capture.capture_configuration_id).order_by(Capture.id)
            ).all()
            expected_links = list(zip(projects, configurations, strict=True))
            assert [tuple(link) for link in links] == expected_links
            owners = session.execute(
                select(CaptureConfiguration.id, CaptureConfiguration.team_id).order_by(
                    CaptureConfiguration.id
                )
            ).all()
            expected_owners = list(zip(configurations, teams, strict=True))
            assert [tuple(owner) for owner in owners] == expected_owners
            shared = str(uuid.uuid4())
            for team, project in zip(teams, projects, strict=True):
                session.add(
                    CaptureConfiguration(uuid=shared, team_id=team, project_id=project, name="s")
                )
            session.commit()
        if backend == "sqlite":
            with engine.connect() as connection:  # the pool's connections check keys again
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_postgres_database(url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_servers_starting_together_on_a_new_database_migrate_it_once(
    backend: str, tmp_path: Path
) -> None:
    """Several servers and workers start at once on a new database (a cluster's first start):
    each brings the schema to head at start, and none fails because another is doing it."""
    require_backend(backend)
    url = create_postgres_database() if backend == "postgresql" else f"sqlite:///{tmp_path}/db"
    start = "from capturehub.server.db import make_engine, upgrade; import sys; "
    start += "upgrade(make_engine(sys.argv[1]))"
    try:
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", start, url],
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(4)
        ]
        for process in processes:
            output, _ = process.communicate(timeout=180)
            assert process.returncode == 0, output
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_heads()
            head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        finally:
            engine.dispose()
        assert current == (head,)
    finally:
        if backend == "postgresql":
            drop_postgres_database(url)
