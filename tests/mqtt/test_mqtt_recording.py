"""Recording over MQTT against the real Mosquitto and a real server: what devices publish
(a JSON batch, SenML, Simple Streaming v2) is stored value for value, readable through
``get_data()`` as soon as the PUBACK came back, and an ordinary capture after the stop; a
batch delivered twice is stored once; a key never opens another device's or project's
recordings; bad payloads are counted and reported, and the subscriber goes on."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from capturehub import Client, ValidationError
from capturehub.recording.simple_streaming import encode_packet
from tests.cli.conftest import run_cli
from tests.mqtt.conftest import MqttServer
from tests.mqtt.devices import Device
from tests.recording.support import await_state, canonical_csv

CHANNELS = ["AccelerometerX", "AccelerometerY", "AccelerometerZ"]
RATE = 50.0


def _rows(kind: str, count: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    if kind == "simple-streaming":  # int16 on the wire
        return [[float(rng.randrange(-32768, 32768)) for _ in CHANNELS] for _ in range(count)]
    return [[rng.uniform(-20, 20) for _ in CHANNELS] for _ in range(count)]


def _message(kind: str, seq: int, rows: list[list[float]]) -> dict[str, Any]:
    """What a device publishes for one batch of ``kind``: payload and MQTT properties."""
    if kind == "json":
        body = {"seq": seq, "t0": seq * len(rows) / RATE, "interval_ms": 20, "values": rows}
        return {"payload": body}
    if kind == "senml":
        pack: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            at = (seq * len(rows) + index) / RATE
            for column, value in enumerate(row):
                record: dict[str, Any] = {"n": CHANNELS[column], "u": "m/s2", "v": value}
                record["t"] = at
                pack.append(record)
        pack[0]["bn"] = ""
        return {"payload": pack, "content_type": "application/senml+json", "seq": seq}
    packet = encode_packet([[int(v) for v in row] for row in rows], sequence=seq + 1)
    return {"payload": packet, "content_type": "application/octet-stream"}


def _counted(bad_batches: int) -> Callable[[str, dict[str, Any]], bool]:
    return lambda _topic, status: status.get("bad_batches") == bad_batches


def _at_least(bad_batches: int) -> Callable[[Any], bool]:
    return lambda status: bool(status["bad_batches"] >= bad_batches)


def _recording_when(
    api: httpx.Client, project_uuid: str, capture_uuid: str, accept: Callable[[Any], bool]
) -> Any:
    """The recording's status once ``accept`` takes it (or after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        status = api.get(f"project/{project_uuid}/recordings/{capture_uuid}/").json()
        if accept(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def _data(mqtt_server: MqttServer, project_name: str, capture_uuid: str) -> Any:
    running = mqtt_server.running
    with Client(server=running.url, username=running.username, password=running.password) as c:
        c.project = project_name
        capture = c.project.captures.get_capture_by_uuid(capture_uuid)
        assert capture is not None
        return capture.get_data()


def _readable(mqtt_server: MqttServer, project_name: str, capture_uuid: str, rows: int) -> Any:
    """``get_data()`` once it holds ``rows`` rows (or what it holds after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        frame = _data(mqtt_server, project_name, capture_uuid)
        if len(frame) >= rows or time.monotonic() > deadline:
            return frame
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["json", "senml", "simple-streaming"])
def test_each_payload_kind_records_what_was_published(
    kind: str, mqtt_server: MqttServer, mqtt_api: httpx.Client, mqtt_project: dict[str, Any]
) -> None:
    p = mqtt_project["uuid"]
    device = mqtt_server.device(mqtt_api, p)
    status = mqtt_server.listener(device.name)
    try:
        start = {"channels": [{"name": c, "units": "m/s2"} for c in CHANNELS], "sample_rate": RATE}
        device.publish("r1", "start", start)
        started = status.wait(lambda _t, s: s.get("state") == "recording")
        uuid = started["uuid"]
        assert started["name"] == f"{device.name}-r1.csv" and started["samples"] == 0

        rows = _rows(kind, 60, seed=len(kind))
        for seq in range(6):
            device.publish("r1", "samples", **_message(kind, seq, rows[seq * 10 : seq * 10 + 10]))
            if seq in (0, 3):
                # Readable while recording. (The device's PUBACK is the broker's: the batch
                # is stored a moment later, when capturehub acknowledges it to the broker.)
                frame = _readable(mqtt_server, mqtt_project["name"], uuid, seq * 10 + 10)
                assert list(frame.columns) == CHANNELS
                np.testing.assert_array_equal(frame.to_numpy(), np.array(rows[: seq * 10 + 10]))

        device.publish("r1", "stop", b"")
        stopped = status.wait(lambda _t, s: s.get("state") == "stopped")
        assert stopped["samples"] == 60 and stopped["bad_batches"] == 0
    finally:
        status.close()
        device.close()

    capture = await_state(mqtt_api, p, uuid)
    assert capture["task_state"] == "SUCCESS", capture["task_result"]
    assert capture["number_samples"] == 60
    original = mqtt_api.get(f"project/{p}/capture/{uuid}/file/").content
    assert original == canonical_csv(CHANNELS, rows)
    frame = _data(mqtt_server, mqtt_project["name"], uuid)
    np.testing.assert_array_equal(frame[CHANNELS].to_numpy(), np.array(rows))


def test_duplicates_stored_once_strangers_refused_bad_payloads_counted(
    mqtt_server: MqttServer, mqtt_api: httpx.Client, mqtt_project: dict[str, Any]
) -> None:
    p = mqtt_project["uuid"]
    device = mqtt_server.device(mqtt_api, p)
    other_project = mqtt_api.post("project/", json={"name": f"{mqtt_project['name']}-b"}).json()
    stranger = mqtt_server.device(mqtt_api, other_project["uuid"])
    status = mqtt_server.listener(device.name)
    try:
        device.publish("r2", "start", {"channels": ["x", "y"], "sample_rate": 10})
        uuid = status.wait(lambda _t, s: s.get("state") == "recording")["uuid"]

        # QoS 1 delivers a message again when its PUBACK was lost: stored once.
        for _ in range(2):
            device.publish("r2", "samples", {"seq": 1, "values": [[1, 2], [3, 4]]})

        # Another project's device key, and no key at all, open nothing on this device's topics.
        for key in (stranger.key, None):
            impostor = Device(device.prefix, device.name, key)
            try:
                impostor.publish("r2", "samples", {"seq": 2, "values": [[9, 9]]})
                refusal = status.wait(lambda _t, s: "error" in s)["error"]
                assert "refused" in refusal and "capturehub-key" in refusal
            finally:
                impostor.close()

        # Bad payloads: counted on the recording, reported, and the next good batch is stored.
        bad: list[tuple[dict[str, Any], str]] = [
            ({"payload": b"{not json"}, "not JSON"),
            ({"payload": {"seq": 4, "values": [[1, 2, 3]]}}, "row 0"),
            ({"payload": {"seq": 5, "values": [[1, "x"]]}}, "not a number"),
            ({"payload": [{"n": "x", "v": 1}], "content_type": "application/senml+json"}, "seq"),
            (
                {
                    "payload": encode_packet([[1, 2]], sequence=6)[:-1] + b"\x00",
                    "content_type": "application/octet-stream",
                },
                "checksum",
            ),
            ({"payload": {"seq": 0, "values": [[5, 6]]}}, "never stored"),
        ]
        for number, (message, problem) in enumerate(bad, start=1):
            device.publish("r2", "samples", **message)
            counted = _recording_when(mqtt_api, p, uuid, _at_least(number))
            assert counted["bad_batches"] == number, counted
            assert problem in counted["last_problem"], counted
        # ... and reported on the status topic.
        report = status.wait(_counted(len(bad)))
        assert "never stored" in report["last_problem"]

        device.publish("r2", "samples", {"seq": 7, "values": [[5, 6]]})
        device.publish("r2", "stop", b"")
        stopped = status.wait(lambda _t, s: s.get("state") == "stopped")
        assert stopped["samples"] == 3 and stopped["bad_batches"] == len(bad)
    finally:
        status.close()
        device.close()
        stranger.close()

    assert await_state(mqtt_api, p, uuid)["task_state"] == "SUCCESS"
    original = mqtt_api.get(f"project/{p}/capture/{uuid}/file/").content
    assert original == canonical_csv(["x", "y"], [[1, 2], [3, 4], [5, 6]])
    # The stranger's project got nothing.
    assert mqtt_api.get(f"project/{other_project['uuid']}/capture/").json() == []


def test_device_keys_through_the_api(
    mqtt_server: MqttServer, mqtt_api: httpx.Client, mqtt_project: dict[str, Any]
) -> None:
    p = mqtt_project["uuid"]
    created = mqtt_api.post(f"project/{p}/devices/", json={"name": "bench-7"})
    assert created.status_code == 201, created.text
    assert created.json()["key"].startswith("chd_")
    listed = mqtt_api.get(f"project/{p}/devices/").json()
    assert [d["name"] for d in listed] == ["bench-7"] and "key" not in listed[0]

    bad_name = mqtt_api.post(f"project/{p}/devices/", json={"name": "a/b"})
    assert bad_name.status_code == 400 and "MQTT topic level" in bad_name.json()["detail"]
    other = mqtt_api.post("project/", json={"name": f"{mqtt_project['name']}-c"}).json()
    taken = mqtt_api.post(f"project/{other['uuid']}/devices/", json={"name": "bench-7"})
    assert taken.status_code == 409 and "exists already" in taken.json()["detail"]
    with mqtt_server.running.http(mqtt_server.running.other) as mallory:
        assert mallory.get(f"project/{p}/devices/").status_code == 404

    assert mqtt_api.delete(f"project/{p}/devices/bench-7/").status_code == 204
    assert mqtt_api.get(f"project/{p}/devices/").json() == []


def test_a_device_made_with_the_cli_records_and_its_deletion_shuts_it_out(
    mqtt_server: MqttServer, mqtt_api: httpx.Client, mqtt_project: dict[str, Any], tmp_path: Path
) -> None:
    """What a user does without curl: `capturehub device create` prints the key (last line),
    the device records with it, `device ls` lists it without the key, `device delete` ends
    it; the SDK's `project.devices` answers the same."""
    running = mqtt_server.running
    env: dict[str, str | None] = {
        "XDG_CONFIG_HOME": str(tmp_path),
        "CAPTUREHUB_SERVER": running.url,
        "CAPTUREHUB_API_KEY": running.api_key,
    }
    project = mqtt_project["name"]
    name = f"cli-{mqtt_project['uuid'][:8]}"
    created = run_cli(["device", "create", name, "--project", project], env=env)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("chd_") and f"{mqtt_server.prefix}/{name}/capture/" in created.stdout

    device = Device(mqtt_server.prefix, name, key)
    status = mqtt_server.listener(name)
    try:
        start = {"channels": [{"name": c, "units": "m/s2"} for c in CHANNELS], "sample_rate": RATE}
        device.publish("r1", "start", start)
        started = status.wait(lambda _t, s: s.get("state") == "recording")
        rows = _rows("json", 10, seed=7)
        device.publish("r1", "samples", **_message("json", 0, rows))
        frame = _readable(mqtt_server, project, started["uuid"], 10)
        np.testing.assert_array_equal(frame.to_numpy(), np.array(rows))
    finally:
        status.close()
        device.close()

    listed = run_cli(["device", "ls", "--project", project, "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row["name"] == name and "key" not in row and key.startswith(row["key_prefix"])
    with Client(server=running.url, username=running.username, password=running.password) as c:
        c.project = project
        assert [d["name"] for d in c.project.devices.list()] == [name]
        with pytest.raises(ValidationError, match="MQTT topic level"):
            c.project.devices.create("a/b")

    deleted = run_cli(["device", "delete", name, "--project", project], env=env)
    assert deleted.exit_code == 0, deleted.output
    assert mqtt_api.get(f"project/{mqtt_project['uuid']}/devices/").json() == []
    again = run_cli(["device", "delete", name, "--project", project], env=env)
    assert again.exit_code != 0 and name in again.output
