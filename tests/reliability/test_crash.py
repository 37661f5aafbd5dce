"""Crash safety: SIGKILL the server at random moments while clients upload and it processes.

A server of its own per backend (not the shared fixture) is killed with SIGKILL again and
again, during uploads and during processing, and started again each time, while a pool of
clients keeps uploading real recordings and generated CSVs of several MB (large enough for a
kill to land mid-upload). At the end:

* every upload that was answered 201 is there, with the sha256 and size the client sent, and
  ends SUCCESS (every file sent is valid, so FAILURE would mean a crash broke processing);
* no capture is half-visible: every listed capture, acknowledged or not, downloads completely
  with the sha256 and size it reports;
* after the server is stopped, ``capturehub fsck --repair --min-age 0`` finds no capture
  without its file, removes the debris of the crashes (orphan blobs, temporary files, partial
  columnar copies of interrupted jobs) and says what it did; ``capturehub fsck --min-age 0``
  then reports clean, and every capture's file is still whole in the blob store.

Reduced form (CI): 6 kills per backend. Full form (CAPTUREHUB_FULL_RELIABILITY=1): 20 kills
and larger files.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, require_backend
from tests.reliability.support import FULL, client, run_fsck, temp_files
from tests.servers import ServerProcess, new_server

KILLS = 20 if FULL else 6
UPLOADERS = 4 if FULL else 3
GENERATED_MB = (5, 9, 14, 20) if FULL else (5, 8, 12)
BIG_MB = 30  # processing it takes long enough for the last kill to land inside the job
RECOVERY_ENV = {
    "CAPTUREHUB_STALE_JOB_SECONDS": "2",
    "CAPTUREHUB_REQUEUE_INTERVAL_SECONDS": "1",
    "CAPTUREHUB_WORKERS": "2",
}
REAL_FILES = [
    "watch/captures/S01_0_ABD_007.csv",
    "watch/captures/S07_1_PEN_000.csv",
    "daphnet/S06R02E0.csv",
    "audio/BM003.wav",
    "audio/deermouse-go.wav",
]


@dataclass
class Sent:
    path: Path
    sha256: str
    size: int


@dataclass
class Ledger:
    """What the clients saw: the uploads answered 201, and anything that must not happen."""

    acknowledged: dict[str, tuple[str, Sent]] = field(default_factory=dict)  # uuid -> name, file
    cut: int = 0  # uploads whose connection broke mid-request (a kill during the upload)
    refused: int = 0  # attempts while the server was down (connection refused)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _generated_csv(path: Path, megabytes: int, seed: int) -> None:
    """A valid 6-channel CSV of about ``megabytes`` MB (a random block repeated)."""
    rng = random.Random(seed)
    rows = [",".join(f"{rng.uniform(-20, 20):.6f}" for _ in range(6)) for _ in range(20_000)]
    block = ("\n".join(rows) + "\n").encode()
    with open(path, "wb") as out:
        out.write(b"AccelX,AccelY,AccelZ,GyroX,GyroY,GyroZ\n")
        out.write(f"{seed},0,0,0,0,0\n".encode())  # makes each file's hash its own
        written = 0
        while written < megabytes * 1_000_000:
            out.write(block)
            written += len(block)


def _files(shared_data: Path, folder: Path) -> list[Sent]:
    folder.mkdir()
    paths = [shared_data / name for name in REAL_FILES]
    for index, megabytes in enumerate(GENERATED_MB):
        path = folder / f"generated_{megabytes}mb.csv"
        _generated_csv(path, megabytes, seed=index)
        paths.append(path)
    return [
        Sent(path, hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size)
        for path in paths
    ]


def _uploader(
    index: int,
    url: str,
    token: str,
    project: str,
    files: list[Sent],
    ledger: Ledger,
    stop: threading.Event,
) -> None:
    order = files[index:] + files[:index]
    with client(url, token, timeout=60) as api:
        for attempt, sent in enumerate(itertools.cycle(order)):
            if stop.is_set():
                return
            name = f"u{index}-{attempt}-{sent.path.name}"
            try:
                with open(sent.path, "rb") as handle:
                    response = api.post(
                        f"project/{project}/capture/",
                        data={"name": name},
                        files={"file": (sent.path.name, handle)},
                    )
            except httpx.ConnectError:  # the server is down: wait for the restart
                with ledger.lock:
                    ledger.refused += 1
                time.sleep(0.2)
                continue
            except httpx.TransportError:  # killed mid-request: not acknowledged, try another
                with ledger.lock:
                    ledger.cut += 1
                continue
            with ledger.lock:
                if response.status_code == 201:
                    body = response.json()
                    ledger.acknowledged[body["uuid"]] = (name, sent)
                    if (body["sha256"], body["file_size"]) != (sent.sha256, sent.size):
                        ledger.problems.append(
                            f"{name}: answered {body['sha256']} "
                            f"{body['file_size']}, sent {sent.sha256}"
                        )
                else:
                    ledger.problems.append(f"{name}: {response.status_code} {response.text[:200]}")


def _processing_started(url: str, token: str, project: str, timeout: float) -> bool:
    """Wait until some capture is being processed (so the next kill lands mid-job)."""
    deadline = time.monotonic() + timeout
    with client(url, token, timeout=5) as api:
        while time.monotonic() < deadline:
            try:
                started = api.get(f"project/{project}/capture/", params={"task_state": "STARTED"})
                if started.status_code == 200 and started.json():
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return False


def _kill_during_a_long_job(
    process: ServerProcess, token: str, project: str, big: Sent, ledger: Ledger
) -> str:
    """Upload a big file and kill the server while it is being processed (a partial columnar
    copy then exists on disk): the one kill that is sure to interrupt a job midway."""
    with client(process.url, token, timeout=120) as api:
        with open(big.path, "rb") as handle:
            response = api.post(
                f"project/{project}/capture/",
                data={"name": "long job"},
                files={"file": (big.path.name, handle)},
            )
        assert response.status_code == 201, response.text
        capture = response.json()["uuid"]
        with ledger.lock:
            ledger.acknowledged[capture] = ("long job", big)
        deadline = time.monotonic() + 30
        state = "SENT"
        while state == "SENT" and time.monotonic() < deadline:
            state = api.get(f"project/{project}/capture/{capture}/").json()["task_state"]
            time.sleep(0.02)
    assert state == "STARTED", f"the long job was {state} before the kill, not being processed"
    time.sleep(0.1)
    process.stop(signal.SIGKILL)
    # The kill must have interrupted the job: with the server dead, its row still says STARTED
    # (a job that had finished would have written SUCCESS first).
    at_kill = _task_state_offline(process, capture)
    assert at_kill == "STARTED", f"the last kill landed after the long job ended ({at_kill})"
    return f"kill during a long job ({at_kill} at the kill)"


def _task_state_offline(process: ServerProcess, capture_uuid: str) -> str | None:
    """A capture's task_state read straight from the database (the server being down)."""
    from sqlalchemy import select

    from capturehub.server.models import Capture

    context = process.context()
    try:
        with context.db.read() as session:
            return session.scalar(select(Capture.task_state).where(Capture.uuid == capture_uuid))
    finally:
        context.db.dispose()


def _killer(
    process: ServerProcess,
    token: str,
    project: str,
    rng: random.Random,
    log: list[str],
    big: Sent,
    ledger: Ledger,
) -> None:
    for kill in range(KILLS):
        if kill == KILLS - 1:  # asserts that it landed mid-job
            log.append(_kill_during_a_long_job(process, token, project, big, ledger))
            process.start(**RECOVERY_ENV)
            continue
        if kill % 2:
            mid_job = _processing_started(process.url, token, project, timeout=2)
            moment = "while processing" if mid_job else "after waiting 2 s for a job"
        else:
            time.sleep(rng.uniform(0.1, 1.2))
            moment = "at a random moment"
        process.stop(signal.SIGKILL)
        log.append(f"kill {kill + 1} {moment}")
        process.start(**RECOVERY_ENV)


def _all_captures(api: httpx.Client, project: str) -> list[dict[str, Any]]:
    response = api.get(f"project/{project}/capture/")
    assert response.status_code == 200, response.text
    captures: list[dict[str, Any]] = response.json()
    return captures


def _wait_until_processed(api: httpx.Client, project: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [c for c in _all_captures(api, project) if c["task_state"] in ("SENT", "STARTED")]
        if not pending:
            return
        time.sleep(0.5)
    raise AssertionError(f"{len(pending)} captures still unprocessed after {timeout} s")


def _check_store(api: httpx.Client, project: str, ledger: Ledger) -> list[str]:
    problems = []
    captures = {c["uuid"]: c for c in _all_captures(api, project)}
    for capture_uuid, (name, sent) in ledger.acknowledged.items():
        capture = captures.get(capture_uuid)
        if capture is None:
            problems.append(f"acknowledged upload {name} ({capture_uuid}) is gone")
        elif capture["name"] != name or capture["sha256"] != sent.sha256:
            problems.append(f"acknowledged upload {name} changed: {capture}")
        elif capture["task_state"] != "SUCCESS":
            problems.append(f"{name} ended {capture['task_state']}: {capture['task_result']}")
    for capture in captures.values():  # acknowledged or not: whole, or not listed at all
        body = api.get(f"project/{project}/capture/{capture['uuid']}/file/")
        digest = hashlib.sha256(body.content).hexdigest()
        if body.status_code != 200 or digest != capture["sha256"]:
            problems.append(
                f"{capture['name']}: download {body.status_code}, sha256 {digest}, "
                f"expected {capture['sha256']}"
            )
        elif len(body.content) != capture["file_size"]:
            problems.append(
                f"{capture['name']}: {len(body.content)} bytes, expected {capture['file_size']}"
            )
    return problems


def _offline_check(process: ServerProcess, ledger: Ledger) -> list[str]:
    """With the server stopped: every row's file is in the blob store with its sha256 and size,
    and every acknowledged upload still has its row."""
    from sqlalchemy import select

    from capturehub.server.models import Capture

    context = process.context()
    problems = []
    try:
        with context.db.read() as session:
            rows = session.execute(
                select(
                    Capture.uuid, Capture.name, Capture.blob_key, Capture.sha256, Capture.file_size
                )
            ).all()
        present = {row.uuid for row in rows}
        problems += [
            f"acknowledged upload {name} lost its row"
            for capture_uuid, (name, _sent) in ledger.acknowledged.items()
            if capture_uuid not in present
        ]
        for row in rows:
            digest, size = hashlib.sha256(), 0
            for chunk in context.blobs.read(row.blob_key):
                digest.update(chunk)
                size += len(chunk)
            if (digest.hexdigest(), size) != (row.sha256, row.file_size):
                problems.append(f"{row.name}: stored file differs from its row")
    finally:
        context.db.dispose()
    return problems


@pytest.mark.parametrize("backend", BACKENDS)
def test_acknowledged_uploads_survive_repeated_kill_9(
    backend: str, tmp_path: Path, shared_data: Path
) -> None:
    require_backend(backend)
    files = _files(shared_data, tmp_path / "files")
    big_path = tmp_path / "files" / "long_job.csv"
    _generated_csv(big_path, BIG_MB, seed=99)
    big = Sent(big_path, hashlib.sha256(big_path.read_bytes()).hexdigest(), big_path.stat().st_size)
    process = new_server(backend, tmp_path / "server")
    try:
        account = process.create_account("crasher", "lab")
        process.start(**RECOVERY_ENV)
        token = process.token(account)
        with client(process.url, token) as api:
            project = api.post("project/", json={"name": "crash"}).json()["uuid"]

        ledger, stop = Ledger(), threading.Event()
        kills: list[str] = []
        uploaders = [
            threading.Thread(
                target=_uploader,
                args=(i, process.url, token, project, files, ledger, stop),
                name=f"uploader-{i}",
            )
            for i in range(UPLOADERS)
        ]
        for thread in uploaders:
            thread.start()
        try:
            _killer(process, token, project, random.Random(backend), kills, big, ledger)
        finally:
            stop.set()
            for thread in uploaders:
                thread.join(timeout=120)
        assert not ledger.problems, "\n".join(ledger.problems)
        assert len(kills) == KILLS
        assert ledger.acknowledged, "no upload was acknowledged"
        assert ledger.cut, "no kill landed during an upload"

        with client(process.url, token) as api:
            _wait_until_processed(api, project)
            problems = _check_store(api, project, ledger)
            assert not problems, f"after {len(kills)} kills:\n" + "\n".join(problems)

        # Offline check and repair of what the crashes left behind.
        process.stop()
        repair = run_fsck(process, "--repair", "--min-age", "0")
        assert repair.returncode == 0, repair.stdout + repair.stderr
        # It tells what it found and repaired; no acknowledged capture may have lost its file.
        assert "captures missing their file: 0" in repair.stdout, repair.stdout
        assert "orphan blobs:" in repair.stdout and "stale temporary files:" in repair.stdout
        assert "repaired" in repair.stdout or "clean" in repair.stdout, repair.stdout
        after = run_fsck(process, "--min-age", "0")
        assert after.returncode == 0 and "clean" in after.stdout, after.stdout
        assert not temp_files(process.data_dir)
        scratch = process.data_dir / "scratch"
        leftovers = [p for p in scratch.rglob("*") if p.is_file()] if scratch.exists() else []

        # The repair removed debris only: every capture's file is still whole on disk.
        problems = _offline_check(process, ledger)
        assert not problems, "after fsck --repair:\n" + "\n".join(problems)
        print(
            f"{backend}: {len(kills)} kills, {len(ledger.acknowledged)} uploads acknowledged, "
            f"{ledger.cut} cut mid-request by a kill; kills: {'; '.join(kills)}\n"
            f"fsck --repair said:\n{repair.stdout}"
        )
        assert not leftovers, (
            f"{len(leftovers)} partial columnar files of interrupted jobs are left in "
            f"{scratch} (fsck --repair neither reports nor removes them): {leftovers[:3]}"
        )
    finally:
        process.close()
