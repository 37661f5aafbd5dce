"""``capturehub fsck`` on a server storing in S3 (SeaweedFS): orphan objects, captures whose
object is gone, and unfinished multipart uploads, which are aborted only once a day old."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from capturehub import Client
from tests.conftest import RunningServer
from tests.s3.conftest import store_of
from tests.s3server import SeaweedFS


def _fsck(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "capturehub.cli.main", "fsck", "--min-age", "0", *args],
        env=server.process.settings_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_fsck_finds_and_repairs_what_a_crash_leaves_in_s3(
    s3_server: RunningServer,
    seaweedfs: SeaweedFS,
    shared_data: Path,
    project_name: str,
    tmp_path: Path,
) -> None:
    files = sorted((shared_data / "watch" / "captures").glob("*.csv"))[:2]
    with Client(
        server=s3_server.url, username=s3_server.username, password=s3_server.password
    ) as client:
        client.project = project_name
        kept, lost = (
            client.project.captures.create_capture(f.name, f, asynchronous=False) for f in files
        )
        project_uuid = client.project.uuid
    store = store_of(s3_server, seaweedfs, tmp_path)
    lost_original = next(
        key for key in store.list(f"captures/{project_uuid}/{lost.uuid}/") if "original" in key
    )
    store.delete(lost_original)  # a row without its object
    orphan = f"captures/{project_uuid}/{uuid.uuid4()}/original-{uuid.uuid4().hex}"
    writer = store.writer(orphan)
    writer.write(b"no row refers to me")
    writer.commit()  # an object without its row
    store.writer(f"captures/{project_uuid}/{uuid.uuid4()}/original-x").write(b"in flight")

    found = _fsck(s3_server)
    assert found.returncode == 1, found.stdout + found.stderr
    assert f"orphan blobs: 1\n  {orphan}\n" in found.stdout
    assert f"captures missing their file: 1\n  {lost.uuid}\n" in found.stdout
    # The unfinished upload is minutes old, not a day: maybe still in progress, left alone.
    assert "stale temporary files: 0" in found.stdout

    repaired = _fsck(s3_server, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert not store.exists(orphan)
    assert len(store.unfinished_uploads()) == 1
    with s3_server.http() as api:
        states = {
            c["uuid"]: c["task_state"] for c in api.get(f"project/{project_uuid}/capture/").json()
        }
    assert states == {kept.uuid: "SUCCESS", lost.uuid: "FAILURE"}
    again = _fsck(s3_server)
    assert "orphan blobs: 0" in again.stdout  # the FAILURE capture is still named (by design)

    # A day later (the age threshold lowered to now), --repair aborts the upload.
    store.upload_min_age_seconds = 0
    assert store.sweep_temporary(0, remove=True) == 1
    assert store.unfinished_uploads() == []
