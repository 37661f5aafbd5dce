"""Recording under stress, each on a server of its own: a ``kill -9`` during 20 recordings
loses no acknowledged sample and doubles none (the clients resume after the restart), a
saturated server answers 503 with Retry-After and the SDK waits, and an idle recording is
stopped by the housekeeping."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from capturehub import Client
from tests.conftest import BACKENDS, require_backend
from tests.recording.support import append, await_state, canonical_csv
from tests.servers import Account, ServerProcess, new_server

RECORDINGS = 20
BATCHES = 24
ROWS = 5


@pytest.fixture(params=BACKENDS)
def lone_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServerProcess, Account]]:
    """A server of this test's own (it is killed, or runs with other settings)."""
    require_backend(request.param)
    process = new_server(request.param, tmp_path / "server")
    try:
        account = process.create_account("recorder", "lab")
        yield process, account
    finally:
        process.close()


def _rows(recording: int, batch: int) -> list[list[float]]:
    return [
        [recording + batch / 100 + row / 10_000, -float(batch * ROWS + row), 0.5]
        for row in range(ROWS)
    ]


def test_kill_9_during_20_recordings_loses_and_doubles_nothing(
    lone_server: tuple[ServerProcess, Account],
) -> None:
    process, account = lone_server
    process.start()
    channels = ["a", "b", "c"]
    # One client (its connection pool is thread-safe), by API key: twenty password logins
    # would still be running, on two cores, when the server is killed.
    sdk = Client(server=process.url, api_key=account.api_key, project="crash")
    project_uuid = sdk.project.uuid
    recordings = [
        sdk.project.recordings.start(f"rec-{i}.csv", channels, 100.0) for i in range(RECORDINGS)
    ]
    starts = recordings
    acked: dict[int, list[int]] = {i: [] for i in range(RECORDINGS)}
    failures: list[BaseException] = []
    killed = threading.Event()

    def record(index: int) -> None:
        try:
            recording = recordings[index]
            recording.retry_seconds = 180
            for batch in range(BATCHES):
                ack = recording.append(_rows(index, batch))
                assert ack["seq"] == batch
                acked[index].append(batch)
                if not killed.is_set():
                    time.sleep(0.02)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=record, args=(i,)) for i in range(RECORDINGS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while sum(len(seqs) for seqs in acked.values()) < RECORDINGS * 4:
        assert time.monotonic() < deadline and not failures, failures
        time.sleep(0.01)
    process.stop(signal.SIGKILL)
    before = {index: list(seqs) for index, seqs in acked.items()}
    assert sum(len(seqs) for seqs in before.values()) < RECORDINGS * BATCHES  # mid-way
    killed.set()

    process.start()
    with process.http(account) as api:
        # Right after the restart, every acknowledged batch is there (clients may be adding).
        for index, recording in enumerate(starts):
            status = api.get(f"project/{project_uuid}/recordings/{recording.uuid}/").json()
            assert status["state"] == "recording"
            assert status["samples"] >= len(before[index]) * ROWS
        for thread in threads:
            thread.join(timeout=240)
        assert not failures, failures
        for recording in starts:
            status = api.post(f"project/{project_uuid}/recordings/{recording.uuid}/stop/").json()
            assert (status["samples"], status["last_seq"]) == (BATCHES * ROWS, BATCHES - 1)
            assert status["gaps"] == 0 and status["bad_batches"] == 0
        for index, recording in enumerate(starts):
            capture = await_state(api, project_uuid, recording.uuid)
            assert capture["task_state"] == "SUCCESS", capture["task_result"]
            rows = [row for batch in range(BATCHES) for row in _rows(index, batch)]
            original = api.get(f"project/{project_uuid}/capture/{recording.uuid}/file/").content
            assert original == canonical_csv(channels, rows)
    sdk.close()


def test_a_saturated_server_answers_503_and_the_sdk_waits(
    lone_server: tuple[ServerProcess, Account],
) -> None:
    process, account = lone_server
    process.start(CAPTUREHUB_RECORDING_MAX_PENDING_BATCHES="1")
    with Client(server=process.url, username=account.username, password=account.password) as sdk:
        sdk.project = "busy"
        recordings = [sdk.project.recordings.start(f"busy-{i}.csv", ["x"], 10) for i in range(8)]
        statuses: list[int] = []
        retry_after: list[str | None] = []
        token = process.token(account)

        def flood(recording_uuid: str) -> None:
            with httpx.Client(base_url=process.url, timeout=60) as raw:
                for seq in range(15):
                    response = raw.post(
                        f"project/{sdk.project.uuid}/recordings/{recording_uuid}/batches/",
                        json={"seq": seq, "values": [[float(seq)]] * 200},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    statuses.append(response.status_code)
                    if response.status_code == 503:
                        retry_after.append(response.headers.get("Retry-After"))
                        assert "Send this batch again" in response.json()["detail"]

        threads = [threading.Thread(target=flood, args=(r.uuid,)) for r in recordings[:4]]
        sdk_results: list[dict[str, Any]] = []

        def through_sdk(index: int) -> None:
            recording = sdk.project.recordings.get(recordings[index].uuid)
            for _ in range(15):
                sdk_results.append(recording.append([[1.0]] * 200))

        threads += [threading.Thread(target=through_sdk, args=(i,)) for i in range(4, 8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert set(statuses) <= {200, 503} and 503 in statuses, statuses
        assert set(retry_after) == {"1"}
        assert len(sdk_results) == 60  # every SDK batch stored in the end
        for recording in recordings[4:]:
            assert sdk.project.recordings.get(recording.uuid).status()["samples"] == 15 * 200


def test_an_idle_recording_is_stopped_by_the_housekeeping(
    lone_server: tuple[ServerProcess, Account],
) -> None:
    process, account = lone_server
    process.start(
        CAPTUREHUB_REQUEUE_INTERVAL_SECONDS="0.5", CAPTUREHUB_RECORDING_IDLE_TIMEOUT_SECONDS="600"
    )
    with process.http(account) as api:
        p = api.post("project/", json={"name": "idle"}).json()["uuid"]
        body: dict[str, Any] = {"channels": [{"name": "x"}], "sample_rate": 10}
        idle = api.post(
            f"project/{p}/recordings/", json={**body, "name": "idle.csv", "idle_timeout_seconds": 1}
        ).json()
        busy = api.post(f"project/{p}/recordings/", json={**body, "name": "busy.csv"}).json()
        assert busy["idle_timeout_seconds"] == 600  # the server's default
        assert append(api, p, idle["uuid"], 0, [[2]]).status_code == 200
        deadline = time.monotonic() + 60
        while True:
            status = api.get(f"project/{p}/recordings/{idle['uuid']}/").json()
            if status["state"] == "stopped" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status["state"] == "stopped" and status["stopped_by"] == "idle"
        capture = await_state(api, p, idle["uuid"])
        assert capture["task_state"] == "SUCCESS" and capture["number_samples"] == 1
        assert api.get(f"project/{p}/capture/{idle['uuid']}/file/").content == b"x\n2.0\n"
        still = api.get(f"project/{p}/recordings/{busy['uuid']}/").json()
        assert still["state"] == "recording"
