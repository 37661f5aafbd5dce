"""A server killed with ``kill -9`` while 20 WebSocket recordings stream into it: the clients
(the SDK's RecordingStream) reconnect to the restarted server and resume after the last batch
it stored; every acknowledged sample is there, and every sample sent, once and in order."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from capturehub import Client
from capturehub.datamanager.recording_stream import RecordingStream
from tests.conftest import BACKENDS, require_backend
from tests.recording_stream.support import CHANNELS, start
from tests.servers import new_server

RECORDINGS = 20
BATCHES = 100
ROWS = 10


class Recorder(threading.Thread):
    """One device: BATCHES batches of ROWS rows, one every 50 ms, through one stream."""

    def __init__(self, url: str, api_key: str, project_uuid: str, capture_uuid: str, seed: int):
        super().__init__(daemon=True)
        self.url, self.api_key = url, api_key
        self.project_uuid, self.capture_uuid = project_uuid, capture_uuid
        rng = np.random.default_rng(seed)
        self.batches = [rng.normal(0, 5, size=(ROWS, len(CHANNELS))) for _ in range(BATCHES)]
        self.sent = 0
        self.stream: RecordingStream | None = None
        self.reconnects = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with Client(server=self.url, api_key=self.api_key) as client:
                self.stream = stream = RecordingStream(
                    client.connection,
                    self.project_uuid,
                    self.capture_uuid,
                    reconnect_seconds=120,
                    timeout=120,
                )
                with stream:
                    for rows in self.batches:
                        stream.send(rows)
                        self.sent += 1
                        time.sleep(0.05)
                self.reconnects = stream.counters.reconnects
        except BaseException as exc:  # reported by the test
            self.error = exc


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_during_20_recordings_loses_and_repeats_nothing(
    backend: str, tmp_path: Path
) -> None:
    require_backend(backend)
    process = new_server(backend, tmp_path / "server")
    try:
        account = process.create_account(f"kim-{uuid.uuid4().hex[:6]}", "lab")
        process.start()
        with process.http(account) as api:
            project = api.post("project/", json={"name": "kill-9"}).json()
            p = project["uuid"]
            captures = [start(api, p, f"device-{i:02d}.csv") for i in range(RECORDINGS)]
            recorders = [
                Recorder(process.url, account.api_key, p, capture, seed=i)
                for i, capture in enumerate(captures)
            ]
            for recorder in recorders:
                recorder.start()
            deadline = time.monotonic() + 120
            while min(r.sent for r in recorders) < BATCHES // 5:
                assert time.monotonic() < deadline, [r.error for r in recorders]
                time.sleep(0.05)
            process.stop(signal.SIGKILL)
            acked_before = [
                (r.stream.counters.last_acked_seq or 0) if r.stream else 0 for r in recorders
            ]
            assert min(r.sent for r in recorders) < BATCHES  # all were still streaming
        process.start()
        for recorder in recorders:
            recorder.join(timeout=300)
        assert [r.error for r in recorders] == [None] * RECORDINGS
        assert sum(r.reconnects for r in recorders) >= RECORDINGS  # each saw the server die
        with Client(server=process.url, api_key=account.api_key) as client:
            client.project = "kill-9"
            for recorder, capture, acked in zip(recorders, captures, acked_before, strict=True):
                found = client.project.captures.get_capture_by_uuid(capture)
                assert found is not None
                reading = found.get_data()
                stored = reading[CHANNELS].to_numpy(dtype=np.float64)
                assert acked > 0 and len(stored) >= acked * ROWS  # nothing acknowledged lost
                # Every sample sent, once, in order: no gap, no duplicate.
                assert stored.tobytes() == np.vstack(recorder.batches).tobytes(), capture
        with process.http(account) as api:
            statuses = [api.get(f"project/{p}/recordings/{c}/").json() for c in captures]
        assert {(s["gaps"], s["bad_batches"]) for s in statuses} == {(0, 0)}
        assert [s["last_seq"] for s in statuses] == [BATCHES] * RECORDINGS
    finally:
        process.close()
