"""The capture lifecycle interrupted between any two of its steps loses nothing, and leaves
nothing that the housekeeping (captures left SENT) and ``capturehub fsck --repair`` (orphan
blobs, temporary files) do not put right.

Each step is interrupted two ways: an exception (the lifecycle's own cleanup runs) and the
process ending on the spot in a subprocess (no cleanup at all, as a kill). Before each, the
project holds one processed capture; afterwards every capture's stored file is whole and
matches its row, each operation either happened or did not, and fsck reports clean.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from capturehub.server.auth import service as auth
from capturehub.server.captures import processing
from capturehub.server.captures.processing import (
    pending_captures,
    process_capture,
    release_claims,
)
from capturehub.server.context import AppContext
from capturehub.server.db import upgrade
from capturehub.server.fsck import fsck
from capturehub.server.jobs import DELETE_BLOBS, delete_blobs
from capturehub.server.models import Capture, Project
from capturehub.server.projects import service as projects
from capturehub.server.projects.schemas import ProjectCreate
from capturehub.server.runtime import build_context
from capturehub.server.storage_keys import project_prefix
from capturehub.storage import StoreUnavailable
from tests.conftest import BACKENDS, REPO_ROOT, require_backend
from tests.lifecycle.scenarios import (
    NEW,
    ORIGINAL,
    REPLACEMENT,
    STEPS,
    World,
    command,
    run,
    sha256,
    upload,
)
from tests.servers import create_postgres_database, drop_postgres_database


class Crash(Exception):
    """The failure injected at a step."""


def _die(*_args: Any, **_kwargs: Any) -> None:
    raise Crash("interrupted")


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    backend = request.param
    require_backend(backend)
    database_url = create_postgres_database() if backend == "postgresql" else None
    try:
        world = World(
            data_dir=str(tmp_path / "data"),
            database_url=database_url,
            user_id=0,
            team_id=0,
            username="crash",
            project_uuid="",
            kept_uuid="",
        )
        context = build_context(world.settings())
        try:
            upgrade(context.db.engine)
            with context.db.session() as session:
                user = auth.create_user(session, "crash", "password-1", "lab")
                world.user_id, world.team_id = user.id, user.team_id
            with context.db.session() as session:
                project = projects.create_project(
                    session, world.caller, ProjectCreate(name="crashes")
                )
                world.project_uuid = project.uuid
            world.kept_uuid = upload(context, world, "kept.csv", ORIGINAL)
            _process_pending(context)
        finally:
            context.db.dispose()
        yield world
    finally:
        if database_url:
            drop_postgres_database(database_url)


def _process_pending(context: AppContext) -> None:
    """What the housekeeping and a worker do: process every capture left to process."""
    for capture_id in pending_captures(context):
        process_capture(context, capture_id)


def _recover_and_check(context: AppContext, world: World) -> dict[str, str]:
    """Recover as the server and an operator would, check everything is whole; returns the
    captures as name -> sha256 of their stored file."""
    _process_pending(context)
    repair = fsck(context, repair=True, min_age_seconds=0)
    assert not repair.missing_originals and not repair.missing_columnar, repair
    after = fsck(context, min_age_seconds=0)
    assert after.clean, after
    captures: dict[str, str] = {}
    with context.db.read() as session:
        rows = session.execute(select(Capture)).scalars().all()
        for capture in rows:
            stored = b"".join(context.blobs.read(capture.blob_key))
            assert sha256(stored) == capture.sha256
            assert len(stored) == capture.file_size
            assert capture.task_state == "SUCCESS", capture.task_result
            assert context.blobs.exists(capture.columnar_key or "")
            captures[capture.name] = capture.sha256
        projects_left = session.scalars(select(Project.uuid)).all()
    if world.project_uuid not in projects_left:
        assert list(context.blobs.list(project_prefix(world.project_uuid))) == []
    return captures


EXPECTED = {
    # step -> the captures once recovered (name -> which file), or None: the project is gone
    "upload: written, not committed": {"kept.csv": ORIGINAL},
    "upload: committed, row not inserted": {"kept.csv": ORIGINAL},
    "upload: row inserted, not queued": {"kept.csv": ORIGINAL, "new.csv": NEW},
    "replace: new file committed, row not changed": {"kept.csv": ORIGINAL},
    "replace: row changed, old file not deleted": {"kept.csv": REPLACEMENT},
    "delete: row deleted, files not deleted": {},
    "project delete: rows deleted, files not deleted": {},
}
# Steps whose exception the lifecycle cleans up itself (nothing for fsck to do).
CLEANED_UP = {
    "upload: written, not committed",
    "upload: committed, row not inserted",
    "replace: new file committed, row not changed",
}


@pytest.mark.parametrize("step", list(STEPS))
def test_an_exception_at_any_step(world: World, step: str, monkeypatch: pytest.MonkeyPatch) -> None:
    context = build_context(world.settings())
    try:
        with pytest.raises(Crash):
            run(context, world, step, _die, monkeypatch.setattr)
        monkeypatch.undo()
        if step in CLEANED_UP:
            found = fsck(context, min_age_seconds=0)
            assert found.clean, found
        captures = _recover_and_check(context, world)
    finally:
        context.db.dispose()
    assert captures == {name: sha256(data) for name, data in EXPECTED[step].items()}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_kill_at_any_step(world: World, step: str) -> None:
    killed = subprocess.run(
        command(world, step), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == 137, killed.stdout + killed.stderr
    context = build_context(world.settings())
    try:
        captures = _recover_and_check(context, world)
    finally:
        context.db.dispose()
    assert captures == {name: sha256(data) for name, data in EXPECTED[step].items()}


class _CommitThenStop:
    """A writer whose commit reaches the store and then loses its answer: what an S3 complete
    call does when the store stops right after doing it."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    def commit(self) -> None:
        self._writer.commit()
        raise StoreUnavailable("the object store did not answer")


def _commit_then_stop(context: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    real_writer = context.blobs.writer
    monkeypatch.setattr(context.blobs, "writer", lambda key: _CommitThenStop(real_writer(key)))


def test_a_commit_that_raised_after_storing_leaves_no_orphan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = build_context(world.settings())
    try:
        _commit_then_stop(context, monkeypatch)
        with pytest.raises(StoreUnavailable):
            upload(context, world, "new.csv", NEW)
        monkeypatch.undo()
        found = fsck(context, min_age_seconds=0)
        assert found.clean, found  # the stored file was deleted, not left as an orphan
        captures = _recover_and_check(context, world)
    finally:
        context.db.dispose()
    assert captures == {"kept.csv": sha256(ORIGINAL)}


def test_a_store_that_stops_during_an_upload_leaves_its_file_to_the_delete_job(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = build_context(world.settings())
    queued: list[tuple[str, dict[str, Any]]] = []
    try:
        _commit_then_stop(context, monkeypatch)

        def stopped(_key: str) -> None:
            raise StoreUnavailable("the object store is unreachable")

        monkeypatch.setattr(context.blobs, "delete", stopped)
        monkeypatch.setattr(
            context.jobs, "enqueue", lambda name, arguments: queued.append((name, arguments))
        )
        with pytest.raises(StoreUnavailable):  # the client hears the store, not the cleanup
            upload(context, world, "new.csv", NEW)
        monkeypatch.undo()
        assert [name for name, _ in queued] == [DELETE_BLOBS]
        keys = queued[0][1]["keys"]
        assert any("/original-" in key for key in keys), keys
        before = fsck(context, min_age_seconds=0)
        assert [key for key in before.orphan_blobs if "/original-" in key] == [
            key for key in keys if "/original-" in key
        ]
        delete_blobs(context.blobs, keys=keys)  # what the job does once the store answers
        captures = _recover_and_check(context, world)
    finally:
        context.db.dispose()
    assert captures == {"kept.csv": sha256(ORIGINAL)}


def test_a_stop_that_does_not_wait_hands_the_capture_in_processing_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's Ctrl-C: a capture being processed goes back to SENT, so the next start
    queues it at once instead of waiting for its claim to run out."""
    context = build_context(world.settings())
    measuring, finish = threading.Event(), threading.Event()
    real_measure = processing.measure_and_store

    def slow_measure(*args: Any) -> Any:
        measuring.set()
        assert finish.wait(30)
        return real_measure(*args)

    try:
        new_uuid = upload(context, world, "new.csv", NEW)
        with context.db.read() as session:
            new_id = session.scalars(select(Capture.id).where(Capture.uuid == new_uuid)).one()
        monkeypatch.setattr(processing, "measure_and_store", slow_measure)
        job = threading.Thread(target=process_capture, args=(context, new_id))
        job.start()
        assert measuring.wait(30)
        assert new_id not in pending_captures(context)  # claimed: nobody else may take it
        assert release_claims(context) == 1
        assert new_id in pending_captures(context)
        # The job was not stopped (a thread cannot be): if it ends before the process does,
        # its outcome stands, and a second run of it (the next start's) changes nothing.
        finish.set()
        job.join(30)
        assert release_claims(context) == 0  # nothing of ours is left
        captures = _recover_and_check(context, world)
    finally:
        finish.set()
        context.db.dispose()
    assert captures == {"kept.csv": sha256(ORIGINAL), "new.csv": sha256(NEW)}
