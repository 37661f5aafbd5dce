"""What the WebSocket recording tests share: starting a recording, a raw WebSocket (for what
the SDK's stream would never send), reading the samples back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
from websockets.sync.client import ClientConnection, connect

from capturehub import Client
from capturehub.datamanager.recording_stream import RecordingStream
from tests.conftest import RunningServer

CHANNELS = ["AccelerometerX", "AccelerometerY", "AccelerometerZ", "GyroscopeX"]


def start(api: httpx.Client, project_uuid: str, name: str, channels: list[str] = CHANNELS) -> str:
    response = api.post(
        f"project/{project_uuid}/recordings/",
        json={"name": name, "channels": [{"name": c} for c in channels], "sample_rate": 100.0},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["uuid"])


def ws_url(server_url: str, project_uuid: str, capture_uuid: str) -> str:
    return "ws" + server_url[4:] + f"project/{project_uuid}/recordings/{capture_uuid}/stream"


def raw_socket(
    server: RunningServer, project_uuid: str, capture_uuid: str, **headers: str
) -> ClientConnection:
    """A WebSocket with the main account's API key, unless ``headers`` say otherwise."""
    sent = headers or {"Authorization": f"Bearer {server.api_key}"}
    return connect(
        ws_url(server.url, project_uuid, capture_uuid),
        additional_headers=sent,
        compression=None,
        proxy=None,
        open_timeout=60,
    )


def receive(socket: ClientConnection, timeout: float = 60) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(socket.recv(timeout=timeout))
    return message


def stream(
    server: RunningServer, project_uuid: str, capture_uuid: str, **options: Any
) -> tuple[Client, RecordingStream]:
    """An SDK client (to close) and a stream of the recording through its connection."""
    client = Client(server=server.url, api_key=server.api_key)
    return client, RecordingStream(client.connection, project_uuid, capture_uuid, **options)


def samples(server: RunningServer, project_name: str, capture_uuid: str) -> np.ndarray:
    """The capture's samples as read through the SDK's get_data(), channel columns only."""
    with Client(server=server.url, api_key=server.api_key) as client:
        client.project = project_name
        found = client.project.captures.get_capture_by_uuid(capture_uuid)
        assert found is not None
        frame = found.get_data()
    columns = [c for c in frame.columns if c not in ("sequence", "timestamp")]
    return frame[columns].to_numpy(dtype=np.float64)


def batches(count: int, rows: int, channels: int, seed: int) -> list[np.ndarray]:
    """Random float64 rows, with values float32 cannot hold exactly and extreme ones."""
    rng = np.random.default_rng(seed)
    out = [rng.normal(0, 10, size=(rows, channels)) for _ in range(count)]
    out[0][0, 0] = -0.0
    out[0][1, 0] = 1e300
    out[0][2, 0] = 5e-324
    return out
