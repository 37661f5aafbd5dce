"""A device publishing to the real Mosquitto with paho-mqtt (what firmware does), and a
listener of capturehub's status topics. Shared by the MQTT tests and the benchmark."""

from __future__ import annotations

import json
import os
import queue
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MQTT_HOST = os.environ.get("CAPTUREHUB_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("CAPTUREHUB_TEST_MQTT_PORT", "1883"))
MQTT_URL = f"mqtt://{MQTT_HOST}:{MQTT_PORT}"


def mosquitto_available() -> str | None:
    """None when the broker answers, else the reason it cannot be used."""
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=3):
            return None
    except OSError as exc:
        return f"no MQTT broker at {MQTT_HOST}:{MQTT_PORT}: {exc}"


def connected_client(client_id: str | None = None) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"test-{uuid.uuid4().hex[:12]}",
        protocol=mqtt.MQTTv5,
    )
    connected: queue.Queue[Any] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.put(reason)
    client.connect(MQTT_HOST, MQTT_PORT, keepalive=30)
    client.loop_start()
    reason = connected.get(timeout=10)
    assert not reason.is_failure, reason
    return client


class Device:
    """One device: publishes with QoS 1 and waits for the PUBACK, which capturehub sends
    only once the batch is stored."""

    def __init__(self, prefix: str, name: str, key: str | None) -> None:
        self.prefix, self.name, self.key = prefix, name, key
        self.client = connected_client()

    def topic(self, recording_id: str, action: str) -> str:
        return f"{self.prefix}/{self.name}/capture/{recording_id}/{action}"

    def publish(
        self,
        recording_id: str,
        action: str,
        payload: bytes | str | dict[str, Any] | list[Any],
        *,
        content_type: str | None = None,
        seq: int | None = None,
        key: str | None = None,
        wait: bool = True,
    ) -> mqtt.MQTTMessageInfo:
        properties = Properties(PacketTypes.PUBLISH)
        pairs = []
        if key or self.key:
            pairs.append(("capturehub-key", key or self.key or ""))
        if seq is not None:
            pairs.append(("seq", str(seq)))
        if pairs:
            properties.UserProperty = pairs
        if content_type:
            properties.ContentType = content_type
        body = json.dumps(payload) if isinstance(payload, dict | list) else payload
        info = self.client.publish(
            self.topic(recording_id, action), body, qos=1, properties=properties
        )
        if wait:
            info.wait_for_publish(timeout=60)
            assert info.is_published(), "no PUBACK within 60 s"
        return info

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class StatusListener:
    """Collects capturehub's status messages of the topics ``pattern`` matches."""

    def __init__(self, pattern: str) -> None:
        self.messages: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.client = connected_client()
        self.client.on_message = self._on_message
        subscribed: queue.Queue[Any] = queue.Queue()
        self.client.on_subscribe = lambda _c, _u, _m, reasons, _p: subscribed.put(reasons)
        self.client.subscribe(pattern, qos=1)
        subscribed.get(timeout=10)

    def _on_message(self, _client: Any, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.payload:
            self.messages.put((message.topic, json.loads(message.payload)))

    def wait(
        self, accept: Callable[[str, dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        """The first status (from now on) that ``accept`` takes."""
        deadline = time.monotonic() + timeout
        seen: list[tuple[str, dict[str, Any]]] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such status within {timeout} s; saw {seen[-5:]}")
            try:
                topic, document = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            seen.append((topic, document))
            if accept(topic, document):
                return document

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def forget_retained(topics: list[str]) -> None:
    """Clear retained messages a test left on the broker."""
    client = connected_client()
    try:
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def forget_session(client_id: str) -> None:
    """End the persistent session a test server's subscriber left on the broker."""
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.connect(MQTT_HOST, MQTT_PORT, clean_start=True, properties=properties)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()
