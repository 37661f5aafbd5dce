"""The data directory is private: what the server writes is readable by its user only, and
``capturehub fsck`` finds (and ``--repair`` tightens) what other users could read."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import new_server


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _fsck(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CAPTUREHUB_")}
    command = [sys.executable, "-m", "capturehub.cli.main", "fsck", "--data-dir", str(data_dir)]
    return subprocess.run(
        [*command, "--min-age", "0", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_server_files_are_private_and_fsck_tightens_loose_ones(tmp_path: Path) -> None:
    process = new_server("sqlite", tmp_path / "private")
    data_dir = process.data_dir
    # Started from a shell with the usual permissive umask (this test's harness creates the
    # data folder and the server log under it: both readable by others).
    previous = os.umask(0o022)
    try:
        process.start()
    finally:
        os.umask(previous)
    try:
        admin = (data_dir / "initial-admin-password.txt").read_text().split()
        login = httpx.post(
            process.url + "oauth/token/",
            data={"grant_type": "password", "username": admin[1], "password": admin[3]},
            timeout=60,
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        with httpx.Client(base_url=process.url, headers=headers, timeout=120) as api:
            project = api.post("project/", json={"name": "private"}).json()["uuid"]
            upload = api.post(
                f"project/{project}/capture/",
                data={"name": "walk.csv", "asynchronous": "False"},
                files={"file": ("walk.csv", b"a,b\n1,2\n3,4\n5,6\n")},
            )
            assert upload.status_code == 201, upload.text
            assert upload.json()["task_state"] == "SUCCESS"

        made_by_server = [path for path in data_dir.rglob("*") if path != process.log_path]
        blobs = [path for path in made_by_server if path.is_file() and "blobs" in path.parts]
        assert len(blobs) >= 2  # the original and its columnar copy
        assert (data_dir / "capturehub.db") in made_by_server
        loose = {
            str(path.relative_to(data_dir)): oct(_mode(path))
            for path in made_by_server
            if _mode(path) != (0o700 if path.is_dir() else 0o600)
        }
        assert loose == {}

        # What the server did not make: the folder and log made by the harness, and a blob
        # opened up by hand.
        blobs[0].chmod(0o644)
        checked = _fsck(data_dir)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "warning: files or folders other users can read: 3" in checked.stdout
        for path in (data_dir, process.log_path, blobs[0]):
            assert f"  {path}\n" in checked.stdout

        repaired = _fsck(data_dir, "--repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert "(made private)" in repaired.stdout
        assert _mode(blobs[0]) == 0o600
        assert process.log_path is not None and _mode(process.log_path) == 0o600
        assert _mode(data_dir) == 0o700
        again = _fsck(data_dir)
        assert "other users can read" not in again.stdout, again.stdout
    finally:
        process.close()
