"""The MQTT way in: one subscriber per cluster reads what devices publish and records it
through the recording service, acknowledging each message only once it is stored.

Acknowledgement: paho-mqtt 2's ``manual_ack`` keeps the PUBACK of a QoS 1 message until
:meth:`MqttRecorder._work` calls ``ack`` after the batch is committed (aiomqtt, the asyncio
client on paho, acknowledges when its callback returns and offers no manual mode, so paho's
own network thread is used here). A message not acknowledged when the connection drops is
delivered again by the broker on the next connection (persistent session, fixed client id);
its ``seq`` makes storing it again a no-op.

Order: the messages of one device recording go to one worker thread, in the order they
arrived, so its batches are stored in order; different recordings are stored in parallel.
Memory: the broker sends at most ``mqtt_receive_maximum`` unacknowledged messages; the rest
wait on the broker, not here.

One subscriber per cluster: every process with ``CAPTUREHUB_MQTT_URL`` set competes for a
lease in the database (the housekeeping's table, its own row); the holder connects, the
others wait and take over when it stops renewing. Shared subscriptions (``$share/...``) would
spread a recording's messages over several servers, and their batches could then be stored
out of order.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import socket
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from capturehub.server import leases
from capturehub.server.context import AppContext
from capturehub.server.errors import APIError, NotFound
from capturehub.server.recording import service
from capturehub.server.recording.mqtt import payloads, topics
from capturehub.server.recording.mqtt.devices import (
    Device,
    DeviceKeys,
    recording_capture,
    remember_recording,
)
from capturehub.storage import StoreUnavailable

log = logging.getLogger("capturehub.mqtt")

LEASE = "mqtt-subscriber"
LEASE_SECONDS = 15.0
KEY_PROPERTY = "capturehub-key"
SEQ_PROPERTY = "seq"
# How long a persistent session outlives its connection on the broker (messages for
# capturehub queue there meanwhile).
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
# Errors that say "not now" (the database or the blob store away, the server saturated):
# the message is stored later, never acknowledged before.
_TRANSIENT = (DBAPIError, PoolTimeout, StoreUnavailable, service.RecordingBusy)


# Messages a worker takes from its queue at once: the samples of one recording among them
# are stored in one transaction (a backlog costs one commit per recording, not per message).
MAX_GROUP = 64


@dataclass
class Unit:
    """Messages handled together: one, or the samples messages of one recording in order."""

    messages: list[mqtt.MQTTMessage]


class Refused(Exception):
    """A message capturehub will not store; the message says why (sent on the status topic)."""


def user_properties(message: mqtt.MQTTMessage) -> dict[str, str]:
    properties = getattr(message, "properties", None)
    pairs = getattr(properties, "UserProperty", None) or []
    return {str(name): str(value) for name, value in pairs}


def content_type(message: mqtt.MQTTMessage) -> str | None:
    properties = getattr(message, "properties", None)
    value = getattr(properties, "ContentType", None)
    return str(value) if value else None


class MqttRecorder:
    """Competes for the subscriber lease, and while holding it records what devices publish."""

    def __init__(self, context: AppContext) -> None:
        settings = context.settings
        if not settings.mqtt_url:
            raise ValueError("CAPTUREHUB_MQTT_URL is not set")
        self._context = context
        self._url = urlsplit(settings.mqtt_url)
        self._prefix = settings.mqtt_topic_prefix
        self._keys = DeviceKeys(context.db)
        self._stop = threading.Event()
        self._client: mqtt.Client | None = None
        self._queues: list[queue.Queue[mqtt.MQTTMessage | None]] = [
            queue.Queue() for _ in range(settings.mqtt_workers)
        ]
        self._workers = [
            threading.Thread(target=self._work, args=(q,), daemon=True, name=f"capturehub-mqtt-{n}")
            for n, q in enumerate(self._queues)
        ]
        self._lease_thread = threading.Thread(
            target=self._hold_lease, daemon=True, name="capturehub-mqtt-lease"
        )
        # (device id, recording id) -> capture uuid and its channel names.
        self._captures: dict[tuple[int, str], tuple[str, tuple[str, ...]]] = {}
        self.counters: Counter[str] = Counter()
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.subscribed = threading.Event()

    # -- lifetime ----------------------------------------------------------------------------

    def start(self) -> None:
        for worker in self._workers:
            worker.start()
        self._lease_thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._lease_thread.join(timeout=10)
        self._disconnect()
        for q in self._queues:
            q.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
        try:
            self._release_lease()
        except Exception:  # stopping anyway: the lease runs out by itself
            log.warning("could not release the MQTT subscriber lease", exc_info=True)
        log.info("MQTT subscriber stopped: %s", dict(self.counters))

    def _hold_lease(self) -> None:
        while not self._stop.is_set():
            try:
                held = self._take_lease()
            except Exception:
                log.warning("could not renew the MQTT subscriber lease", exc_info=True)
                held = False
            if held and self._client is None and not self._stop.is_set():
                self._connect()
            elif not held and self._client is not None:
                log.info("another process holds the MQTT subscriber lease: disconnecting")
                self._disconnect()
            self._stop.wait(LEASE_SECONDS / 3)

    # A lease as the housekeeping's, on a row of its own (see server/leases.py).
    def _take_lease(self) -> bool:
        return leases.take_lease(self._context.db, LEASE, self.holder, LEASE_SECONDS)

    def _release_lease(self) -> None:
        leases.release_lease(self._context.db, LEASE, self.holder)

    # -- the connection ----------------------------------------------------------------------

    def _connect(self) -> None:
        settings = self._context.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.mqtt_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self._url.username:
            client.username_pw_set(
                unquote(self._url.username),
                unquote(self._url.password) if self._url.password else None,
            )
        if self._url.scheme == "mqtts":
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        properties.ReceiveMaximum = settings.mqtt_receive_maximum
        host = self._url.hostname or "127.0.0.1"
        port = self._url.port or (8883 if self._url.scheme == "mqtts" else 1883)
        client.connect_async(host, port, keepalive=30, clean_start=False, properties=properties)
        # Set before the network thread starts: its callbacks publish and acknowledge with it.
        self._client = client
        client.loop_start()
        log.info("MQTT subscriber connecting to %s:%d as %s", host, port, settings.mqtt_client_id)

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        self.subscribed.clear()
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("the MQTT broker refused the connection: %s", reason)
            return
        options = SubscribeOptions(qos=1, noLocal=True)
        client.subscribe([(topic, options) for topic in topics.subscriptions(self._prefix)])

    def _on_subscribe(
        self, client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.warning("the MQTT broker refused the subscriptions: %s", reasons)
            return
        self.subscribed.set()
        log.info("MQTT subscriber listening on %s", ", ".join(topics.subscriptions(self._prefix)))
        self._publish(
            topics.subscriber_status(self._prefix),
            {"subscribed": True, "holder": self.holder, "since": time.time()},
        )

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.subscribed.clear()
        if not self._stop.is_set():
            log.warning("MQTT connection lost (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Only routing here: the network thread must stay free to send acknowledgements.
        topic = topics.parse_topic(self._prefix, message.topic)
        if topic is None:
            self._acknowledge(message)
            return
        shard = zlib.crc32(f"{topic.device}/{topic.recording_id}".encode()) % len(self._queues)
        self._queues[shard].put(message)

    def _acknowledge(self, message: mqtt.MQTTMessage) -> None:
        client = self._client
        if client is not None and message.qos > 0:
            client.ack(message.mid, message.qos)

    def _publish(self, topic: str, document: dict[str, Any], *, retain: bool = True) -> None:
        client = self._client
        if client is not None:
            client.publish(topic, json.dumps(document), qos=1, retain=retain)

    # -- storing -----------------------------------------------------------------------------

    def _work(self, messages: queue.Queue[mqtt.MQTTMessage | None]) -> None:
        while True:
            first = messages.get()
            if first is None:
                return
            waiting = [first]
            while len(waiting) < MAX_GROUP:
                try:
                    more = messages.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    messages.put(None)  # stop once these are done
                    break
                waiting.append(more)
            if not self._store_units(self._units(waiting)):
                return  # stopping: what is not acknowledged is delivered again

    def _store_units(self, units: list[Unit]) -> bool:
        """Handle the units in order, acknowledging each once stored; False if the recorder
        stopped first. The samples units are queued for the recording service's writer
        together and waited for together (the writer stores them, and the other workers'
        ones, in one transaction); a start or stop waits for the samples before it."""
        queued: list[tuple[Unit, Callable[[], None]]] = []
        for unit in units:
            samples = self._is_samples(unit)
            if not samples:
                if not self._finish(queued):
                    return False
                queued = []
            finish = None
            try:
                finish = self.begin(unit)
            except _TRANSIENT:
                self.counters["retries"] += 1
                finish = lambda unit=unit: self.handle(unit)  # noqa: E731 (tried again below)
            except Exception:
                self.counters["errors"] += 1
                log.exception("MQTT message on %s could not be handled", unit.messages[0].topic)
            if samples and finish is not None:
                queued.append((unit, finish))
                continue
            if finish is not None and not self._store(unit, finish):
                return False
            self._acknowledge_all(unit)
        return self._finish(queued)

    def _finish(self, queued: list[tuple[Unit, Callable[[], None]]]) -> bool:
        for unit, finish in queued:
            if not self._store(unit, finish):
                return False
            self._acknowledge_all(unit)
        return True

    def _acknowledge_all(self, unit: Unit) -> None:
        for message in unit.messages:
            self._acknowledge(message)

    def _is_samples(self, unit: Unit) -> bool:
        topic = topics.parse_topic(self._prefix, unit.messages[0].topic)
        return topic is not None and topic.action == topics.SAMPLES

    def _store(self, unit: Unit, finish: Callable[[], None]) -> bool:
        """Finish a unit (``finish`` waits for what :meth:`begin` queued), handling it again
        from the start while the database or the server is busy; False if the recorder
        stopped first."""
        delay = 0.05
        while not self._stop.is_set():
            try:
                finish()
                return True
            except _TRANSIENT as exc:
                # Kept unacknowledged and tried again: a batch is never dropped because the
                # database was away for a moment.
                self.counters["retries"] += 1
                if not isinstance(exc, service.RecordingBusy):
                    log.warning("MQTT batch not stored yet (%s); retrying", exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
                finish = lambda: self.handle(unit)  # noqa: E731
            except Exception:
                # A bug must not stop the other recordings: logged, counted, acknowledged.
                self.counters["errors"] += 1
                log.exception("MQTT message on %s could not be handled", unit.messages[0].topic)
                return True
        return False

    def _units(self, messages: list[mqtt.MQTTMessage]) -> list[Unit]:
        """The messages in units of work: the samples messages of one recording together
        (stored in one transaction), everything else alone. A recording's messages keep their
        order: its start or stop closes its group, and later samples start a new one."""
        units: list[Unit] = []
        groups: dict[tuple[int, str], Unit] = {}
        for message in messages:
            topic = topics.parse_topic(self._prefix, message.topic)
            device = None
            if topic is not None:
                try:
                    device = self._keys.device(user_properties(message).get(KEY_PROPERTY))
                except Exception:  # asked again, with retries, when the unit is handled
                    device = None
            if topic is None or device is None or device.name != topic.device:
                units.append(Unit([message]))
                continue
            key = (device.id, topic.recording_id)
            if topic.action != topics.SAMPLES:
                groups.pop(key, None)
                units.append(Unit([message]))
            elif key in groups:
                groups[key].messages.append(message)
            else:
                groups[key] = Unit([message])
                units.append(groups[key])
        return units

    def handle(self, unit: Unit) -> None:
        """Store what a unit's messages say, waiting until it is stored."""
        finish = self.begin(unit)
        if finish is not None:
            finish()

    def begin(self, unit: Unit) -> Callable[[], None] | None:
        """Handle a unit up to queueing its samples: returns what waits for them to be
        stored (None if nothing is left to do). Refusals are counted and reported on the
        status topic (and acknowledged: sending them again would not help)."""
        message = unit.messages[0]
        topic = topics.parse_topic(self._prefix, message.topic)
        if topic is None:
            return None
        self.counters["messages"] += len(unit.messages)
        with self._reporting(topic):
            device = self._keys.device(user_properties(message).get(KEY_PROPERTY))
            if device is None or device.name != topic.device:
                self.counters["refused"] += 1
                # Not retained: a stranger must not overwrite the device's own status.
                self._publish(
                    topic.status(self._prefix),
                    {
                        "error": f"refused: the message needs the key of device {topic.device!r} "
                        f"in the MQTT v5 user property {KEY_PROPERTY!r}",
                    },
                    retain=False,
                )
                return None
            if topic.action == topics.START:
                self._start(device, topic, bytes(message.payload))
            elif topic.action == topics.SAMPLES:
                wait = self._samples(device, topic, unit.messages)
                return lambda: self._reported(topic, wait)
            elif topic.action == topics.STOP:
                self._stop_recording(device, topic)
            else:
                raise Refused(f"unknown topic {topic.action!r}: use start, samples or stop")
        return None

    def _reported(self, topic: topics.Topic, step: Callable[[], None]) -> None:
        with self._reporting(topic):
            step()

    @contextmanager
    def _reporting(self, topic: topics.Topic) -> Iterator[None]:
        """A refusal inside is counted and published on the recording's status topic."""
        try:
            yield
        except Refused as refusal:
            self.counters["refused"] += 1
            self._publish(topic.status(self._prefix), {"error": str(refusal)})
        except APIError as exc:
            if exc.status_code >= 500:
                raise
            self.counters["refused"] += 1
            self._publish(topic.status(self._prefix), {"error": exc.message})

    def _status(self, device: Device, topic: topics.Topic, capture_uuid: str) -> None:
        status = service.recording_status(
            self._context, device.caller, device.project_uuid, capture_uuid
        )
        self._publish(
            topic.status(self._prefix),
            {"device": device.name, "recording_id": topic.recording_id, **status.to_json()},
        )

    def _capture(self, device: Device, topic: topics.Topic) -> tuple[str, tuple[str, ...]]:
        key = (device.id, topic.recording_id)
        known = self._captures.get(key)
        if known is not None:
            return known
        capture_uuid = recording_capture(self._context.db, device, topic.recording_id)
        if capture_uuid is None:
            raise Refused(
                f"no recording {topic.recording_id!r} of device {device.name!r}: publish its "
                f"channels and rate to {self._prefix}/{device.name}/capture/"
                f"{topic.recording_id}/start first"
            )
        status = service.recording_status(
            self._context, device.caller, device.project_uuid, capture_uuid
        )
        known = (capture_uuid, tuple(channel["name"] for channel in status.channels))
        if len(self._captures) > 10_000:
            self._captures.clear()
        self._captures[key] = known
        return known

    def _start(self, device: Device, topic: topics.Topic, payload: bytes) -> None:
        existing = recording_capture(self._context.db, device, topic.recording_id)
        if existing is not None:  # a start sent again (QoS 1) or retained
            self._status(device, topic, existing)
            return
        try:
            spec = payloads.recording_spec(
                payload, default_name=f"{device.name}-{topic.recording_id}", device=device.name
            )
        except payloads.BadPayload as exc:
            raise Refused(str(exc)) from None
        status = service.start_recording(self._context, device.caller, device.project_uuid, spec)
        remember_recording(self._context.db, device, topic.recording_id, status.uuid)
        self.counters["recordings"] += 1
        self._captures[(device.id, topic.recording_id)] = (
            status.uuid,
            tuple(channel.name for channel in spec.channels),
        )
        self._publish(
            topic.status(self._prefix),
            {"device": device.name, "recording_id": topic.recording_id, **status.to_json()},
        )

    def _samples(
        self, device: Device, topic: topics.Topic, messages: list[mqtt.MQTTMessage]
    ) -> Callable[[], None]:
        """Decode the messages and queue their batches; returns what waits for them."""
        capture_uuid, channels = self._capture(device, topic)
        batches: list[payloads.Batch] = []
        problems = False
        for message in messages:
            properties = user_properties(message)
            try:
                seq = int(properties[SEQ_PROPERTY]) if SEQ_PROPERTY in properties else None
                kind = payloads.payload_kind(
                    topic_suffix=topic.kind, content_type=content_type(message)
                )
                batches += payloads.decode(kind, bytes(message.payload), channels=channels, seq=seq)
            except (payloads.BadPayload, ValueError) as exc:
                self.counters["bad_payloads"] += 1
                problems = True
                service.count_bad_batch(
                    self._context,
                    device.caller,
                    device.project_uuid,
                    capture_uuid,
                    f"Message refused: {exc}.",
                )
        future = None
        if batches:
            target = service.target_of(
                self._context, device.caller, device.project_uuid, capture_uuid
            )
            future = service.submit_batches(
                self._context, target, [(batch.seq, batch.rows) for batch in batches]
            )

        def wait() -> None:
            nonlocal problems
            for answer in future.result() if future is not None else []:
                if isinstance(answer, service.BadBatch):
                    self.counters["bad_payloads"] += 1  # counted on the recording too
                    problems = True
                elif isinstance(answer, NotFound):
                    self._captures.pop((device.id, topic.recording_id), None)
                    raise answer
                elif isinstance(answer, APIError):
                    raise answer  # the recording stopped: reported once
                else:
                    self.counters["duplicates" if answer.duplicate else "batches"] += 1
            if problems:
                self._status(device, topic, capture_uuid)

        return wait

    def _stop_recording(self, device: Device, topic: topics.Topic) -> None:
        capture_uuid, _channels = self._capture(device, topic)
        status = service.stop_recording(
            self._context, device.caller, device.project_uuid, capture_uuid
        )
        self._publish(
            topic.status(self._prefix),
            {"device": device.name, "recording_id": topic.recording_id, **status.to_json()},
        )
