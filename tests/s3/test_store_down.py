"""When the object store does not answer, requests that need a file get a 503 with
Retry-After (never a 500) and requests that do not still work; once it answers again, the
same server serves the same bytes. SeaweedFS is really stopped (SIGKILL) and started again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_seaweedfs
from tests.s3.conftest import s3_server_env
from tests.s3server import SeaweedFS, start_seaweedfs
from tests.server.helpers import upload
from tests.servers import Account, ServerProcess, new_server


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[SeaweedFS, ServerProcess, Account]]:
    require_seaweedfs()
    seaweedfs = start_seaweedfs(tmp_path / "seaweedfs")  # our own: this test stops it
    process = new_server("sqlite", tmp_path / "server")
    try:
        process.env.update(s3_server_env(seaweedfs, seaweedfs.new_bucket(), "lab"))
        account = process.create_account("patient", "lab")
        process.start()
        yield seaweedfs, process, account
    finally:
        process.close()
        seaweedfs.stop()


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert "retry" in response.json()["detail"]


def test_a_store_that_does_not_answer_gives_503_then_recovers(
    stack: tuple[SeaweedFS, ServerProcess, Account], shared_data: Path
) -> None:
    seaweedfs, process, account = stack
    wav = shared_data / "audio" / "deermouse-go.wav"
    with process.http(account) as api:
        project = api.post("project/", json={"name": f"p-{uuid.uuid4().hex[:6]}"}).json()
        stored = upload(api, project["uuid"], wav, asynchronous=False)
        assert stored.status_code == 201, stored.text
        capture = f"project/{project['uuid']}/capture/{stored.json()['uuid']}/"

        seaweedfs.stop()
        _unavailable(api.get(capture + "file/"))
        _unavailable(api.get(capture + "file/", headers={"Range": "bytes=0-99"}))
        _unavailable(api.get(capture + "data/"))
        _unavailable(api.get(capture + "plot/", params={"start": 0, "end": 10}))
        _unavailable(upload(api, project["uuid"], wav, name="during.wav"))
        listed = api.get(f"project/{project['uuid']}/capture/")  # the database still answers
        assert listed.status_code == 200
        assert [c["name"] for c in listed.json()] == [wav.name]

        seaweedfs.start()
        assert api.get(capture + "file/").content == wav.read_bytes()
        again = upload(api, project["uuid"], wav, name="after.wav", asynchronous=False)
        assert again.status_code == 201 and again.json()["task_state"] == "SUCCESS"
