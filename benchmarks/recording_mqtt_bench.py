"""Live recording over MQTT beside a 16 kHz audio recording over HTTP, on one server.

    python -m benchmarks.run --only recording-mqtt                    # 50 devices, 120 s
    python -m benchmarks.run --only recording-mqtt --backend postgresql

What runs at once, paced in real time:
- ``mqtt_devices`` devices (paho-mqtt clients, one connection each) publishing 3-channel JSON
  batches at ``mqtt_rate`` Hz, one batch every ``mqtt_batch_ms`` ms, QoS 1, to the real
  Mosquitto at 127.0.0.1:1883; the server's subscriber stores them;
- one audio recording, 1 channel at 16 kHz, a batch of 1,600 samples every 100 ms through
  the HTTP batches route;
- readers that call the SDK's ``get_data(start=...)`` on the audio recording and on every
  ``WATCH_EVERY``-th device's recording in turn, noting when each batch's rows first come
  back (every recording is read back in full after the stop).

Figures: ``send_to_readable_p95_ms``, the time from publishing (or POSTing) a batch to the
first ``get_data()`` that returned its rows (a reader's round adds to it: an upper bound);
the HTTP answer times (acknowledged once stored) and the broker's PUBACK times (the device's
PUBACK is the broker's, sent before capturehub stores the message); samples
sent and samples stored (read back after the stop, value for value); the server's CPU (in
cores, from /proc) and its resident memory. The publishers and readers run on the same
2-core machine as the server and the broker, and take their share of it.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.servers import new_server

CHANNELS = ["x", "y", "z"]
AUDIO_RATE = 16_000
AUDIO_BATCH = 1_600  # 100 ms

MQTT_RATE = 50
# Each recording is read at most this often (seconds): the granularity of send-to-readable.
READ_EVERY = 0.25
# Readers follow the audio recording and every WATCH_EVERY-th device (10 of 50), as the
# WebSocket benchmark follows every tenth recording: readers polling all 51 recordings in
# turn measured mostly their own round (17 reads of ~100 ms each, 1.2 to 1.7 s, against the
# READ_EVERY a live plot polls at) and took the server's CPU from the recordings measured.
WATCH_EVERY = 5
READERS = 3


def device_value(device: int, sample: int, channel: int) -> float:
    """A value whose float and JSON forms are exact, different per device, sample, channel."""
    return ((sample * 7 + device * 13 + channel * 101) % 2001 - 1000) / 8


def audio_value(sample: int) -> int:
    return (sample * 37) % 65536 - 32768


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


class Recording:
    """What was sent to one recording and when, and when a reader first saw it."""

    def __init__(self, capture_uuid: str, channels: int) -> None:
        self.capture_uuid = capture_uuid
        self.channels = channels
        self.sent: list[tuple[int, float]] = []  # (rows after this batch, send time)
        self.acked: list[float] = []  # acknowledgement latencies (s)
        self.readable: list[float] = []  # send-to-readable latencies (s)
        self.seen_rows = 0
        self.seen_batches = 0
        self.lock = threading.Lock()

    def saw(self, rows: int, when: float) -> None:
        with self.lock:
            self.seen_rows = rows
            while self.seen_batches < len(self.sent) and self.sent[self.seen_batches][0] <= rows:
                self.readable.append(when - self.sent[self.seen_batches][1])
                self.seen_batches += 1


# A private broker with what docs/recording.md asks of a deployment's broker: capturehub's
# subscriber may have many messages in flight (its Receive Maximum bounds them) and a backlog
# is queued, not dropped.
TUNED_BROKER = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 0
max_queued_messages 100000
"""


def bench_recording_mqtt(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    if not sizes.get("recording_mqtt_tuned_broker"):
        return _bench(workdir, backend, sizes, "machine")
    from tests import servers
    from tests.mqtt import devices

    broker_dir = Path(tempfile.mkdtemp(prefix="mosquitto-", dir=workdir))
    port = servers.free_port()
    (broker_dir / "mosquitto.conf").write_text(TUNED_BROKER.format(port=port))
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(broker_dir / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    saved = devices.MQTT_PORT, devices.MQTT_URL
    devices.MQTT_PORT, devices.MQTT_URL = port, f"mqtt://{devices.MQTT_HOST}:{port}"
    try:
        deadline = time.monotonic() + 10
        while devices.mosquitto_available() and time.monotonic() < deadline:
            time.sleep(0.1)
        return _bench(workdir, backend, sizes, "tuned (max_inflight_messages 0)")
    finally:
        devices.MQTT_PORT, devices.MQTT_URL = saved
        broker.terminate()
        broker.wait(timeout=10)
        shutil.rmtree(broker_dir, ignore_errors=True)


def _bench(workdir: Path, backend: str, sizes: dict[str, int], broker: str) -> dict[str, Any]:
    from tests.mqtt.devices import MQTT_URL, StatusListener, mosquitto_available

    reason = mosquitto_available()
    if reason:
        return {"skipped": reason}
    shape = {
        "mqtt_devices": sizes["recording_mqtt_devices"],
        "seconds": sizes["recording_mqtt_seconds"],
        "mqtt_rate": MQTT_RATE,
        "mqtt_batch_ms": sizes["recording_mqtt_batch_ms"],
    }
    prefix = f"chbench-{uuid.uuid4().hex[:8]}"
    client_id = f"capturehub-{prefix}"
    server_dir = Path(tempfile.mkdtemp(prefix="recording-mqtt-", dir=workdir))
    process = new_server(backend, server_dir)
    try:
        return {
            "broker": broker,
            **_run(process, prefix, client_id, shape, MQTT_URL, StatusListener),
        }
    finally:
        process.close()
        shutil.rmtree(server_dir, ignore_errors=True)
        from tests.mqtt.devices import forget_session

        forget_session(client_id)


def _run(
    process: Any,
    prefix: str,
    client_id: str,
    shape: dict[str, int],
    mqtt_url: str,
    listener_class: Any,
) -> dict[str, Any]:
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from capturehub import Client
    from tests.mqtt.devices import MQTT_HOST, MQTT_PORT

    account = process.create_account("bench", "bench")
    ready = listener_class(f"{prefix}/status")
    process.start(
        CAPTUREHUB_MQTT_URL=mqtt_url,
        CAPTUREHUB_MQTT_TOPIC_PREFIX=prefix,
        CAPTUREHUB_MQTT_CLIENT_ID=client_id,
    )
    try:
        ready.wait(lambda _topic, status: status.get("subscribed") is True)
    except AssertionError:
        raise RuntimeError(f"the server did not subscribe:\n{process.log()}") from None
    finally:
        ready.close()
    token = process.token(account)
    api = httpx.Client(
        base_url=process.url, timeout=600, headers={"Authorization": f"Bearer {token}"}
    )
    project = api.post("project/", json={"name": "bench"}).json()["uuid"]
    devices = shape["mqtt_devices"]
    per_batch = shape["mqtt_rate"] * shape["mqtt_batch_ms"] // 1000
    interval = shape["mqtt_batch_ms"] / 1000
    seconds = shape["seconds"]

    # The devices: a key each, a connection each, a recording each.
    statuses = listener_class(f"{prefix}/+/capture/+/status")
    clients: list[mqtt.Client] = []
    keys: list[str] = []
    acked: list[dict[int, float]] = []
    for index in range(devices):
        name = f"dev-{index:03d}"
        keys.append(api.post(f"project/{project}/devices/", json={"name": name}).json()["key"])
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{prefix}-{name}", protocol=mqtt.MQTTv5
        )
        times: dict[int, float] = {}
        acked.append(times)
        client.on_publish = lambda _c, _u, mid, _r, _p, times=times: times.__setitem__(
            mid, time.perf_counter()
        )
        client.connect(MQTT_HOST, MQTT_PORT, keepalive=60)
        client.loop_start()
        clients.append(client)

    def properties(index: int) -> Properties:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("capturehub-key", keys[index])]
        return props

    recordings: list[Recording] = []
    for index, client in enumerate(clients):
        start = {"channels": CHANNELS, "sample_rate": shape["mqtt_rate"]}
        topic = f"{prefix}/dev-{index:03d}/capture/r1/"
        client.publish(topic + "start", json.dumps(start), qos=1, properties=properties(index))
    started: dict[str, str] = {}
    while len(started) < devices:
        status = statuses.wait(lambda _t, s: s.get("state") == "recording")
        started[status["device"]] = status["uuid"]
    for index in range(devices):
        recordings.append(Recording(started[f"dev-{index:03d}"], len(CHANNELS)))
    audio_uuid = api.post(
        f"project/{project}/recordings/",
        json={
            "name": "audio.wav",
            "channels": [{"name": "channel_0"}],
            "sample_rate": AUDIO_RATE,
            "kind": "audio",
        },
    ).json()["uuid"]
    audio = Recording(audio_uuid, 1)

    stop = threading.Event()
    published: list[list[tuple[int, int, float]]] = [[] for _ in range(devices)]

    def publish_all() -> None:
        """Every device every ``interval``, spread evenly over it (devices are not in step)."""
        began = time.perf_counter()
        tick = 0
        while not stop.is_set():
            for index in range(devices):
                due = began + tick * interval + index * interval / devices
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                first = tick * per_batch
                rows = [
                    [device_value(index, first + n, c) for c in range(len(CHANNELS))]
                    for n in range(per_batch)
                ]
                body = json.dumps({"seq": tick, "t0": first / shape["mqtt_rate"], "values": rows})
                recording = recordings[index]
                sent_at = time.perf_counter()
                with recording.lock:
                    recording.sent.append((first + per_batch, sent_at))
                info = clients[index].publish(
                    f"{prefix}/dev-{index:03d}/capture/r1/samples",
                    body,
                    qos=1,
                    properties=properties(index),
                )
                published[index].append((info.mid, tick, sent_at))
            tick += 1

    http_errors: list[str] = []

    def send_audio() -> None:
        began = time.perf_counter()
        seq = 0
        with httpx.Client(
            base_url=process.url, timeout=60, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            while not stop.is_set():
                due = began + seq * AUDIO_BATCH / AUDIO_RATE
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                first = seq * AUDIO_BATCH
                values = [[audio_value(first + n)] for n in range(AUDIO_BATCH)]
                sent_at = time.perf_counter()
                with audio.lock:
                    audio.sent.append((first + AUDIO_BATCH, sent_at))
                while True:
                    answer = http.post(
                        f"project/{project}/recordings/{audio_uuid}/batches/",
                        json={"seq": seq, "values": values},
                    )
                    if answer.status_code != 503:
                        break
                    time.sleep(float(answer.headers.get("Retry-After", "1")))
                if answer.status_code != 200:
                    http_errors.append(answer.text[:200])
                audio.acked.append(time.perf_counter() - sent_at)
                seq += 1

    def read(watched: list[Recording]) -> None:
        with Client(
            server=process.url, username=account.username, password=account.password
        ) as sdk:
            sdk.project = "bench"
            captures = {
                r.capture_uuid: sdk.project.captures.get_capture_by_uuid(r.capture_uuid)
                for r in watched
            }
            for capture in captures.values():  # the SDK's first read pays its imports
                assert capture is not None
                capture.get_data(start=0, end=1)
            warm.wait()
            while not stop.is_set():
                round_began = time.perf_counter()
                for recording in watched:
                    capture = captures[recording.capture_uuid]
                    assert capture is not None
                    asked = time.perf_counter()
                    frame = capture.get_data(start=recording.seen_rows)
                    answered = time.perf_counter()
                    reads.append(answered - asked)
                    recording.saw(recording.seen_rows + len(frame), answered)
                # A live plot polls a few times a second, not as fast as it can.
                stop.wait(READ_EVERY - (time.perf_counter() - round_began))

    reads: list[float] = []
    readers = READERS
    # Readers are warm before anything is sent (then the clock starts).
    warm = threading.Barrier(readers + 1)
    every = [audio, *recordings[::WATCH_EVERY]]
    reader_threads = [
        threading.Thread(target=read, args=(every[n::readers],)) for n in range(readers)
    ]
    for thread in reader_threads:
        thread.start()
    warm.wait()
    threads = [
        threading.Thread(target=publish_all),
        threading.Thread(target=send_audio),
        *reader_threads,
    ]
    pid = process.process.pid
    cpu_before, wall_before = cpu_seconds(pid), time.perf_counter()
    rss_samples: list[float] = []
    for thread in threads[:2]:
        thread.start()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        time.sleep(1)
        rss_samples.append(memory_mb(pid, "VmRSS"))
    stop.set()
    for thread in threads:
        thread.join()
    cpu = (cpu_seconds(pid) - cpu_before) / (time.perf_counter() - wall_before)

    # Wait for the last PUBACKs, then stop everything and read it all back.
    settle = time.perf_counter() + 60
    while time.perf_counter() < settle and any(
        mid not in acked[i] for i in range(devices) for mid, _t, _s in published[i][-3:]
    ):
        time.sleep(0.1)
    for index in range(devices):
        for mid, _tick, sent_at in published[index]:
            if mid in acked[index]:
                recordings[index].acked.append(acked[index][mid] - sent_at)
    unacked = sum(1 for i in range(devices) for mid, _t, _s in published[i] if mid not in acked[i])
    stopped: set[str] = set()
    for index, client in enumerate(clients):
        client.publish(
            f"{prefix}/dev-{index:03d}/capture/r1/stop", b"", qos=1, properties=properties(index)
        ).wait_for_publish(timeout=120)
    api.post(f"project/{project}/recordings/{audio_uuid}/stop/")
    try:
        while len(stopped) < devices:
            status = statuses.wait(lambda _t, s: s.get("state") == "stopped", timeout=120)
            stopped.add(status["uuid"])
    except AssertionError:
        pass  # stop messages the broker dropped: stopped over HTTP below, and counted
    stops_lost = 0
    for recording in recordings:
        if recording.capture_uuid not in stopped:
            stops_lost += 1
            api.post(f"project/{project}/recordings/{recording.capture_uuid}/stop/")
    for client in clients:
        client.disconnect()
        client.loop_stop()
    statuses.close()

    lost = 0
    wrong = 0
    gaps = 0
    bad = 0
    batches = 0
    deadline = time.monotonic() + 600  # for processing every stopped recording
    sent_samples = 0
    for index, recording in enumerate([*recordings, audio]):
        total = recording.sent[-1][0] if recording.sent else 0
        sent_samples += total
        state = api.get(f"project/{project}/recordings/{recording.capture_uuid}/").json()
        lost += total - state["samples"]
        gaps += state["gaps"]
        bad += state["bad_batches"]
        batches += state["batches"]
        while (
            api.get(f"project/{project}/capture/{recording.capture_uuid}/").json()["task_state"]
            not in ("SUCCESS", "FAILURE")
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        with Client(
            server=process.url, username=account.username, password=account.password
        ) as sdk:
            sdk.project = "bench"
            capture = sdk.project.captures.get_capture_by_uuid(recording.capture_uuid)
            assert capture is not None
            frame = capture.get_data()
        values = frame.to_numpy()
        expected: list[list[float]]
        if recording is audio:
            expected = [[float(audio_value(n))] for n in range(total)]
        else:
            expected = [
                [device_value(index, n, c) for c in range(len(CHANNELS))] for n in range(total)
            ]
        if values.tolist() != expected:
            wrong += 1
    api.close()

    mqtt_readable = [v for r in recordings for v in r.readable]
    mqtt_acked = [v for r in recordings for v in r.acked]

    def ms(value: float | None) -> float | None:
        return None if value is None else round(1000 * value, 1)

    return {
        "mqtt_devices": devices,
        "mqtt_rate_hz": shape["mqtt_rate"],
        "mqtt_batch_ms": shape["mqtt_batch_ms"],
        "audio_rate_hz": AUDIO_RATE,
        "seconds": seconds,
        "samples_sent": sent_samples,
        "samples_lost": lost,
        "recordings_differing": wrong,
        "mqtt_unacknowledged": unacked,
        "mqtt_gaps": gaps,
        "mqtt_bad_batches": bad,
        "mqtt_stops_lost": stops_lost,
        "batches_stored_per_s": round(batches / seconds, 1),
        "http_errors": len(http_errors),
        "send_to_readable_p50_ms": ms(percentile(mqtt_readable + audio.readable, 0.5)),
        "send_to_readable_p95_ms": ms(percentile(mqtt_readable + audio.readable, 0.95)),
        "mqtt_send_to_readable_p95_ms": ms(percentile(mqtt_readable, 0.95)),
        "audio_send_to_readable_p95_ms": ms(percentile(audio.readable, 0.95)),
        "mqtt_broker_puback_p50_ms": ms(percentile(mqtt_acked, 0.5)),
        "mqtt_broker_puback_p95_ms": ms(percentile(mqtt_acked, 0.95)),
        "audio_http_p95_ms": ms(percentile(audio.acked, 0.95)),
        "recordings_watched": len(every),
        "get_data_calls": len(reads),
        "get_data_p95_ms": ms(percentile(reads, 0.95)),
        "server_cpu_cores": round(cpu, 2),
        "server_rss_median_mb": round(statistics.median(rss_samples), 1) if rss_samples else None,
        "server_rss_peak_mb": round(memory_mb(pid, "VmHWM"), 1),
    }
