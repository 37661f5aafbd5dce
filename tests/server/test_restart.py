"""Durability of processing: a job queued when the server stops runs after it starts again."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import require_backend
from tests.server.helpers import upload, wait_done
from tests.servers import new_server


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_queued_job_runs_after_restart(
    backend: str, stop_signal: int, tmp_path: Path, shared_data: Path
) -> None:
    require_backend(backend)
    process = new_server(backend, tmp_path / "server")
    try:
        account = process.create_account("restarter", "lab")
        # No processing threads: the upload is stored and answered, its job stays queued.
        process.start(CAPTUREHUB_WORKERS="0")
        with process.http(account, timeout=60) as api:
            project = api.post("project/", json={"name": "durable"}).json()
            created = upload(api, project["uuid"], shared_data / "audio" / "BM003.wav")
            assert created.status_code == 201
            capture_uuid = created.json()["uuid"]
            assert (
                api.get(f"project/{project['uuid']}/capture/{capture_uuid}/").json()["task_state"]
                == "SENT"
            )
            process.stop(stop_signal)
            process.start(CAPTUREHUB_WORKERS="2")
            capture = wait_done(api, project["uuid"], capture_uuid)
            assert capture["task_state"] == "SUCCESS"
            assert capture["number_samples"] > 0
    finally:
        process.close()
