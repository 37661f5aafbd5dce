"""A capturehub server subscribed to the real Mosquitto (127.0.0.1:1883), on SQLite and on
PostgreSQL. Each server gets its own topic prefix and client id, so test runs in parallel on
one broker never see each other's messages. Without a broker the tests skip with the reason,
unless CAPTUREHUB_REQUIRE_SERVICES=1."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, RunningServer, require_backend
from tests.mqtt.devices import (
    MQTT_URL,
    Device,
    StatusListener,
    connected_client,
    forget_retained,
    forget_session,
    mosquitto_available,
)
from tests.servers import REQUIRE_SERVICES, new_server


def require_mosquitto() -> None:
    reason = mosquitto_available()
    if reason:
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason} (CAPTUREHUB_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


@dataclass
class MqttServer:
    running: RunningServer
    prefix: str

    def device(self, api: httpx.Client, project_uuid: str, name: str | None = None) -> Device:
        """A device of the project, with its key made through the API."""
        name = name or f"dev-{uuid.uuid4().hex[:8]}"
        response = api.post(f"project/{project_uuid}/devices/", json={"name": name})
        assert response.status_code == 201, response.text
        return Device(self.prefix, name, response.json()["key"])

    def listener(self, device: str) -> StatusListener:
        return StatusListener(f"{self.prefix}/{device}/capture/+/status")


def _retained_topics(prefix: str) -> list[str]:
    found: queue.Queue[str] = queue.Queue()
    client = connected_client()
    client.on_message = lambda _c, _u, message: found.put(message.topic)
    client.subscribe(f"{prefix}/#", qos=0)
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()
    return list(found.queue)


@pytest.fixture(scope="module", params=BACKENDS)
def mqtt_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MqttServer]:
    backend: str = request.param
    require_mosquitto()
    require_backend(backend)
    prefix = f"chtest-{uuid.uuid4().hex[:10]}"
    client_id = f"capturehub-{prefix}"
    process = new_server(backend, tmp_path_factory.mktemp(f"mqtt-{backend}"))
    try:
        main = process.create_account(f"alice-{uuid.uuid4().hex[:6]}", "lab")
        other = process.create_account(f"mallory-{uuid.uuid4().hex[:6]}", "rivals")
        ready = StatusListener(f"{prefix}/status")
        try:
            process.start(
                CAPTUREHUB_MQTT_URL=MQTT_URL,
                CAPTUREHUB_MQTT_TOPIC_PREFIX=prefix,
                CAPTUREHUB_MQTT_CLIENT_ID=client_id,
            )
            # Subscribed: from here on, what devices publish reaches the server.
            ready.wait(lambda _topic, status: status.get("subscribed") is True)
        finally:
            ready.close()
        yield MqttServer(RunningServer(process=process, main=main, other=other), prefix)
    finally:
        process.close()
        forget_session(client_id)
        forget_retained(_retained_topics(prefix))


@pytest.fixture
def mqtt_api(mqtt_server: MqttServer) -> Iterator[httpx.Client]:
    with mqtt_server.running.http() as client:
        yield client


@pytest.fixture
def mqtt_project(mqtt_api: httpx.Client) -> dict[str, Any]:
    response = mqtt_api.post("project/", json={"name": f"mqtt-{uuid.uuid4().hex[:10]}"})
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project
