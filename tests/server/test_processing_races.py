"""A capture deleted while its processing job runs: the job notices and logs no error."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.data import make_csv
from tests.conftest import RunningServer


def test_deleting_a_capture_mid_processing_logs_no_error(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    # Big enough that processing takes a noticeable moment, so the delete lands mid-job.
    csv = make_csv(tmp_path / "long.csv", 400_000)
    assert server.process.log_path is not None
    log_before = server.process.log_path.stat().st_size
    base = f"project/{project['uuid']}/capture/"
    hit_mid_job = 0
    for attempt in range(3):
        with open(csv, "rb") as handle:
            created = api.post(
                base, data={"name": f"long-{attempt}.csv"}, files={"file": ("long.csv", handle)}
            ).json()
        url = f"{base}{created['uuid']}/"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = api.get(url).json()["task_state"]
            if state != "SENT":
                break
            time.sleep(0.005)
        hit_mid_job += state == "STARTED"
        assert api.delete(url).status_code == 204
    time.sleep(1.5)  # let the jobs finish and log
    with open(server.process.log_path, "rb") as log:
        log.seek(log_before)
        written = log.read().decode(errors="replace")
    assert "Traceback" not in written, written[-3000:]
    assert "ERROR" not in written, written[-3000:]
    assert hit_mid_job, "no delete landed while a job ran; make the file bigger"
