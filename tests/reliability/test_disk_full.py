"""A full disk: uploads and database writes that do not fit get a 507 that says so, and
nothing stored is lost.

The server's data folder is a small tmpfs (4 MB), so its disk really fills: while an upload
streams in, while a synchronous upload writes its columnar copy, and while the database
(SQLite, in the same folder) writes. Needs root (to mount); skipped with the reason otherwise,
except where CAPTUREHUB_REQUIRE_SERVICES=1 (CI), where a mount that fails is a failure: CI must
run these.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import REQUIRE_SERVICES, ServerProcess, new_server

SMALL = b"ax,ay,az\n" + b"1,2,3\n" * 50


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs here: {mounted.stderr.strip() or 'not root'}"
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason} (CAPTUREHUB_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


@pytest.fixture
def server(small_disk: Path) -> Iterator[ServerProcess]:
    process = new_server("sqlite", small_disk)
    try:
        # Housekeeping every second: it gives processing back its captures (below).
        process.start(CAPTUREHUB_REQUEUE_INTERVAL_SECONDS="1")
        yield process
        assert "Traceback" not in process.log()
    finally:
        process.close()


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    account = server.create_account("filler", "lab")
    with server.http(account) as client:
        yield client


def _upload(
    api: httpx.Client, project: str, name: str, body: bytes, **fields: str
) -> httpx.Response:
    return api.post(
        f"project/{project}/capture/",
        data={"name": name, **fields},
        files={"file": (name, body)},
    )


def test_uploads_that_do_not_fit_get_a_507_and_keep_what_is_stored(api: httpx.Client) -> None:
    project = api.post("project/", json={"name": "full"}).json()["uuid"]
    kept = _upload(api, project, "kept.csv", SMALL, asynchronous="False")
    assert kept.status_code == 201, kept.text

    # Larger than the whole disk: the disk fills while the file streams in.
    huge = b"ax,ay,az\n" + b"1000,2000,3000\n" * 400_000  # 6 MB
    streamed = _upload(api, project, "huge.csv", huge)
    assert streamed.status_code == 507, streamed.text
    assert "no storage space left" in streamed.json()["detail"]

    # Fits as a CSV (1.8 MB), but its columnar copy (3 channels of 8-byte numbers, 2.4 MB) does
    # not fit beside it: the disk fills while a synchronous upload is processed.
    dense = b"ax,ay,az\n" + b"1,2,3\n" * 300_000
    processed = _upload(api, project, "dense.csv", dense, asynchronous="False")
    assert processed.status_code == 507, processed.text

    # Neither left a capture or used space: the same small file still fits, and the first
    # capture is whole.
    names = {capture["name"] for capture in api.get(f"project/{project}/capture/").json()}
    assert names == {"kept.csv"}
    again = _upload(api, project, "again.csv", SMALL, asynchronous="False")
    assert again.status_code == 201, again.text
    url = f"project/{project}/capture/{kept.json()['uuid']}/file/"
    downloaded = api.get(url)
    assert hashlib.sha256(downloaded.content).hexdigest() == hashlib.sha256(SMALL).hexdigest()


def _fill(disk: Path) -> Path:
    """A file taking everything the disk has left."""
    filler = disk / "filler"
    with filler.open("wb") as out, pytest.raises(OSError):
        while True:
            out.write(bytes(64 * 1024))
    return filler


def test_processing_on_a_full_disk_waits_for_space_then_completes(
    server: ServerProcess, api: httpx.Client, small_disk: Path
) -> None:
    project = api.post("project/", json={"name": "waiting"}).json()["uuid"]
    csv = b"ax,ay,az\n" + b"1,2,3\n" * 50_000  # 300 kB; its columnar copy 1.2 MB
    filler = _fill(small_disk)
    with filler.open("r+b") as out:  # room for the file and its row, not for the copy
        out.truncate(filler.stat().st_size - 600 * 1024)
    uploaded = _upload(api, project, "dense.csv", csv)  # asynchronous: processed after the 201
    assert uploaded.status_code == 201, uploaded.text
    url = f"project/{project}/capture/{uploaded.json()['uuid']}/"
    deadline = time.monotonic() + 60
    while (capture := api.get(url).json())["task_result"] is None:
        assert time.monotonic() < deadline, capture
        time.sleep(0.1)
    # Not a FAILURE: the file is fine, the server is short of space.
    assert capture["task_state"] in ("SENT", "STARTED"), capture
    assert "disk was full" in capture["task_result"]
    # While the disk stays full it is not parsed again (housekeeping runs every second).
    time.sleep(3)
    assert server.log().count("no space left to process capture") == 1
    filler.unlink()
    while (capture := api.get(url).json())["task_state"] != "SUCCESS":
        assert time.monotonic() < deadline, capture
        assert capture["task_state"] != "FAILURE", capture
        time.sleep(0.1)
    assert capture["task_result"] is None
    assert capture["number_samples"] == 50_000


def test_a_database_write_on_a_full_disk_gets_a_507_and_works_once_space_is_freed(
    api: httpx.Client, small_disk: Path
) -> None:
    kept = api.post("project/", json={"name": "before"})
    assert kept.status_code == 201, kept.text
    filler = _fill(small_disk)
    # SQLite's log needs room for the new pages: the write fails as a whole.
    refused = api.post("project/", json={"name": "during", "description": "x" * 5000})
    assert refused.status_code == 507, refused.text
    assert "database has no storage space left" in refused.json()["detail"]
    filler.unlink()
    again = api.post("project/", json={"name": "after"})
    assert again.status_code == 201, again.text
    names = {project["name"] for project in api.get("project/").json()}
    assert {"before", "after"} <= names
    assert "during" not in names
