"""``capturehub migrate``: a small lab on SQLite and local files moved to PostgreSQL and a new
blob store, interrupted twice and continued, answers its users as before."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import create_engine, text

from capturehub import Client
from capturehub.server.runtime import build_blob_store
from capturehub.server.settings import Settings
from tests.conftest import require_backend
from tests.moving.lab import RECORDED, OldLab, answers, assert_same_answers, file_hashes
from tests.recording.support import canonical_csv
from tests.s3server import SeaweedFS, require_loopback
from tests.servers import ServerProcess, create_postgres_database, drop_postgres_database


@dataclass
class NewStorage:
    url: str
    env: dict[str, str]  # what a process needs to reach it (S3 endpoint and credentials)

    def keys(self) -> set[str]:
        settings = Settings(
            storage_url=self.url, s3_endpoint_url=self.env.get("CAPTUREHUB_S3_ENDPOINT_URL")
        )
        with patched_environment(self.env):
            return set(build_blob_store(settings).list(""))


@contextmanager
def patched_environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(params=["s3", "file"])
def new_storage(request: pytest.FixtureRequest, tmp_path: Path) -> NewStorage:
    if request.param == "file":
        return NewStorage(f"file://{tmp_path / 'new-blobs'}", {})
    seaweedfs: SeaweedFS = request.getfixturevalue("seaweedfs")
    require_loopback(seaweedfs.endpoint_url)
    return NewStorage(f"s3://{seaweedfs.new_bucket()}/lab", seaweedfs.env())


@pytest.fixture
def new_database() -> Iterator[str]:
    require_backend("postgresql")
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def migrate_command(lab: OldLab, database: str, storage: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "capturehub.cli.main",
        "migrate",
        "--data-dir",
        str(lab.data_dir),
        "--to-database",
        database,
        "--to-storage",
        storage,
        *extra,
    ]


def run_until(command: list[str], marker: str, env: dict[str, str]) -> str:
    """Run ``command`` and SIGKILL it as soon as it prints a line containing ``marker`` (an
    interruption at a known step: a power cut, an operator's kill -9)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    output = "".join(seen)
    assert process.returncode == -signal.SIGKILL, f"not interrupted:\n{output}"
    return output


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def lab_files(folder: Path) -> dict[str, str]:
    """The old lab's files with their sha256, but SQLite's shared-memory index and an empty
    write-ahead log: reading a database in WAL mode needs them beside it, and a read-only
    reader creates them when the last server removed them."""
    found = file_hashes(folder)
    found.pop("capturehub.db-shm", None)
    if found.get("capturehub.db-wal") == EMPTY_SHA256:
        del found["capturehub.db-wal"]
    return found


def scalar(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(text(sql)) or 0)
    finally:
        engine.dispose()


def test_a_moved_lab_answers_as_before(
    old_lab: OldLab, new_database: str, new_storage: NewStorage, tmp_path: Path
) -> None:
    old_lab.process.start()
    try:
        before = answers(old_lab.process.url, old_lab, tmp_path / "old-downloads")
        token = old_lab.process.token(old_lab.main)  # a login made before the move
    finally:
        old_lab.process.stop()
    old_files = lab_files(old_lab.data_dir)

    new_dir = tmp_path / "new-lab"
    command = migrate_command(
        old_lab, new_database, new_storage.url, "--batch-size", "5", "--jobs", "1"
    )
    env = {**os.environ, **new_storage.env}
    # Interrupted in the middle of the capture rows, then in the middle of the files.
    run_until(command, "  capture: 5 rows", env)
    copied = scalar(new_database, "SELECT COUNT(*) FROM capture")
    assert copied in (5, 10, 15)  # of 17: whole batches only
    assert scalar(new_database, "SELECT COUNT(*) FROM capturehub_move_file") == 0
    output = run_until(command, "  files:", env)
    assert "continuing the move" in output
    first_files = scalar(new_database, "SELECT COUNT(*) FROM capturehub_move_file")

    finished = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "counts equal" in finished.stdout
    assert "copied now: 0 " in finished.stdout.split("rows: ")[-1]  # rows were all done
    assert "moved and checked" in finished.stdout
    moved_files = scalar(new_database, "SELECT COUNT(*) FROM capturehub_move_file")
    assert moved_files > first_files >= 1
    # Nothing twice: every table holds exactly the old lab's rows (the command compares all
    # counts; the capture table is checked here by its ids too).
    assert scalar(new_database, "SELECT COUNT(*) FROM capture") == scalar(
        new_database, "SELECT COUNT(DISTINCT id) FROM capture"
    )
    # Once more: nothing left to do, nothing copied again.
    again = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "copied now: 0" in again.stdout
    # The old lab is untouched by the move: its database and files.
    assert lab_files(old_lab.data_dir) == old_files

    # Every file of the old lab is in the new storage, and nothing else.
    assert new_storage.keys() == {
        path.relative_to(old_lab.data_dir / "blobs").as_posix()
        for path in (old_lab.data_dir / "blobs").rglob("*")
        if path.is_file()
        and not path.relative_to(old_lab.data_dir / "blobs").parts[0].startswith(".")
    }
    moved = ServerProcess(
        backend="postgresql",
        data_dir=new_dir,
        database_url=new_database,
        env={"CAPTUREHUB_STORAGE_URL": new_storage.url, **new_storage.env},
    )
    moved.start()
    try:
        after = answers(moved.url, old_lab, tmp_path / "new-downloads")
        assert_same_answers(before, after)
        # Logins: a password, an API key, and a token issued by the old server.
        with Client(
            server=moved.url, username=old_lab.main.username, password=old_lab.main.password
        ) as client:
            assert client.list_projects()["name"].tolist() == ["watch", "sounds and gait"]
        with Client(server=moved.url, api_key=old_lab.other.api_key) as client:
            assert client.list_projects()["name"].tolist() == ["vendor export"]
        answer = httpx.get(moved.url + "project/", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        # New rows get new ids (the sequences were moved past the copied ones).
        with Client(server=moved.url, api_key=old_lab.main.api_key) as client:
            client.project = "after the move"
            assert client.project.uuid
        # The capture that was waiting for processing is processed by the new lab.
        with Client(server=moved.url, api_key=old_lab.main.api_key) as client:
            client.project = "sounds and gait"
            pending = client.project.captures.get_capture_by_uuid(old_lab.pending)
            assert pending is not None
            deadline = time.monotonic() + 120
            while pending.task_state not in ("SUCCESS", "FAILURE"):
                assert time.monotonic() < deadline
                time.sleep(0.2)
                pending.refresh()
            assert pending.task_state == "SUCCESS", pending.task_result
            assert len(pending.get_data()) == 7040

            # The recording in progress goes on where it was: its stored batches readable,
            # the next batch numbered after them, and stopping stores exactly every row.
            recording = client.project.recordings.get(old_lab.recording)
            status = recording.status()
            assert (status["state"], status["samples"], status["last_seq"]) == ("recording", 3, 1)
            rows = [row for batch in RECORDED for row in batch]
            np.testing.assert_array_equal(recording.capture.get_data().to_numpy(), rows)
            assert recording.append([[7.0, 8.0]])["seq"] == 2
            recording.stop()
            live = recording.capture
            live.await_ready()
            assert live.task_state == "SUCCESS", live.task_result
            (tmp_path / "live").mkdir()
            original = live.download(tmp_path / "live").read_bytes()
            assert original == canonical_csv(["x", "y"], [*rows, [7.0, 8.0]])
    finally:
        moved.stop()
