"""Recording over HTTP against a real server: the samples read back while recording and
after the stop are the ones sent, value for value; the stored original is their canonical
CSV (or WAV); duplicates are stored once; bad batches are refused, explained and counted."""

from __future__ import annotations

import random
from typing import Any

import httpx
import numpy as np

from capturehub import Client
from tests.conftest import RunningServer
from tests.recording.support import append, await_state, canonical_csv, canonical_wav, start

CHANNELS = ["AccelerometerX", "AccelerometerY", "GyroscopeZ"]


def _rows(count: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        rows.append([rng.uniform(-20, 20), float(rng.randrange(-32768, 32767)), rng.gauss(0, 1e-9)])
    rows[0][0] = -0.0
    rows[1][1] = 1e300
    return rows


def _data(server: RunningServer, project_name: str, capture_uuid: str) -> Any:
    with Client(server=server.url, username=server.username, password=server.password) as client:
        client.project = project_name
        capture = client.project.captures.get_capture_by_uuid(capture_uuid)
        assert capture is not None
        return capture.get_data()


def test_samples_equal_what_was_sent_while_recording_and_after_stop(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], project_name: str
) -> None:
    p = project["uuid"]
    status = start(api, p, "walk.csv", CHANNELS, metadata={"Subject": "S01"})
    uuid = status["uuid"]
    assert status["state"] == "recording" and status["samples"] == 0

    # Listed at once, as the SensiML SDK can wait on it: SENT, with recording true.
    listed = {c["uuid"]: c for c in api.get(f"project/{p}/capture/").json()}
    assert listed[uuid]["task_state"] == "SENT" and listed[uuid]["recording"] is True

    rows = _rows(250, seed=1)
    sent: list[list[float]] = []
    for seq, first in enumerate(range(0, 250, 25)):
        batch = rows[first : first + 25]
        response = append(api, p, uuid, seq, batch)
        assert response.status_code == 200, response.text
        sent += batch
        assert response.json() == {
            "seq": seq,
            "duplicate": False,
            "samples": len(sent),
            "last_seq": seq,
            "first_sample": first,
            "rows": 25,
        }
        if seq in (0, 5):
            frame = _data(server, project_name, uuid)
            assert list(frame.columns) == CHANNELS
            np.testing.assert_array_equal(frame.to_numpy(), np.array(sent))

    window = api.get(f"project/{p}/capture/{uuid}/plot/", params={"start": 10, "end": 20}).json()
    assert window["resolution"] == "raw" and window["index"] == list(range(10, 20))
    assert window["values"][0] == [row[0] for row in rows[10:20]]

    stopped = api.post(f"project/{p}/recordings/{uuid}/stop/").json()
    assert stopped["state"] == "stopped" and stopped["samples"] == 250
    assert api.get(f"project/{p}/recordings/").json() == []

    capture = await_state(api, p, uuid)
    assert capture["task_state"] == "SUCCESS", capture["task_result"]
    assert capture["recording"] is False and capture["number_samples"] == 250
    original = api.get(f"project/{p}/capture/{uuid}/file/").content
    assert original == canonical_csv(CHANNELS, rows)
    frame = _data(server, project_name, uuid)
    np.testing.assert_array_equal(frame[CHANNELS].to_numpy(), np.array(rows))
    metadata = api.get(f"v2/project/{p}/capture/{uuid}/metadata-relationship/").json()
    assert len(metadata) == 1


def test_duplicates_are_stored_once_and_bad_batches_are_counted(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    uuid = start(api, p, "bad.csv", ["x", "y"])["uuid"]
    assert append(api, p, uuid, 5, [[1, 2], [3, 4]]).status_code == 200
    again = append(api, p, uuid, 5, [[1, 2], [3, 4]])
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["samples"] == 2

    refusals = [
        (6, [[1, 2, 3]], "row 1 has 3 values; this recording has 2 channels (x, y)"),
        (6, [[1, "2"]], "row 1, channel 'y' is '2' (str), not a number"),
        (6, [[1, True]], "row 1, channel 'y' is True (bool), not a number"),
        (6, [[1, None]], "row 1, channel 'y' is None (NoneType), not a number"),
        (6, [], "the batch holds no rows"),
        ("6", [[1, 2]], "seq must be an integer"),
    ]
    for seq, values, message in refusals:
        response = append(api, p, uuid, seq, values)
        assert response.status_code == 400, response.text
        assert message in response.json()["detail"]

    assert append(api, p, uuid, 9, [[5, 6]]).status_code == 200  # a gap: 6 to 8 missing
    backwards = append(api, p, uuid, 7, [[7, 8]])
    assert backwards.status_code == 400
    assert "comes after batch 9 and was never stored" in backwards.json()["detail"]

    status = api.get(f"project/{p}/recordings/{uuid}/").json()
    assert status["bad_batches"] == len(refusals) + 1
    assert status["gaps"] == 1 and status["samples"] == 3 and status["last_seq"] == 9
    assert "never stored" in status["last_problem"]

    api.post(f"project/{p}/recordings/{uuid}/stop/")
    late = append(api, p, uuid, 10, [[1, 2]])
    assert late.status_code == 409 and "stopped" in late.json()["detail"]
    capture = await_state(api, p, uuid)
    assert capture["task_state"] == "SUCCESS", capture["task_result"]
    assert api.get(f"project/{p}/capture/{uuid}/file/").content == canonical_csv(
        ["x", "y"], [[1, 2], [3, 4], [5, 6]]
    )


def test_audio_recording_is_stored_as_16_bit_wav(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    uuid = start(api, p, "voice.wav", ["left", "right"], kind="audio", sample_rate=16000)["uuid"]
    rows = [[i % 32768 - 16384, -i] for i in range(3200)]
    for seq in range(2):
        assert append(api, p, uuid, seq, rows[seq * 1600 : (seq + 1) * 1600]).status_code == 200
    refused = append(api, p, uuid, 2, [[0.5, 1]])
    assert refused.status_code == 400 and "integers from -32768 to 32767" in refused.text
    api.post(f"project/{p}/recordings/{uuid}/stop/")
    capture = await_state(api, p, uuid)
    assert capture["task_state"] == "SUCCESS", capture["task_result"]
    assert capture["format"] == ".wav" and capture["number_samples"] == 3200
    original = api.get(f"project/{p}/capture/{uuid}/file/").content
    assert original == canonical_wav(2, 16000, rows)


def test_a_recording_is_refused_sensible_specs(api: httpx.Client, project: dict[str, Any]) -> None:
    p = project["uuid"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channels": []}, "at least one channel"),
        ({"channels": [{"name": "a,b"}]}, "comma"),
        ({"channels": [{"name": "x"}, {"name": "X"}]}, "given twice"),
        ({"channels": [{"name": "sequence"}]}, "reserved"),
        ({"sample_rate": 0}, "sample_rate must be a positive"),
    ]
    for change, message in cases:
        body: dict[str, Any] = {"name": "r.csv", "channels": [{"name": "x"}], "sample_rate": 10}
        body.update(change)
        response = api.post(f"project/{p}/recordings/", json=body)
        assert response.status_code == 400, response.text
        assert message in response.text
    start(api, p, "taken.csv", ["x"])
    assert (
        api.post(
            f"project/{p}/recordings/",
            json={"name": "taken.csv", "channels": [{"name": "x"}], "sample_rate": 10},
        ).status_code
        == 409
    )


def test_plot_buckets_follow_the_recording_and_its_file_cannot_be_replaced(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    uuid = start(api, p, "plot.csv", ["x", "y"])["uuid"]
    values = [[float(i), float(-i)] for i in range(3000)]
    values[1234][0] = 1e6  # a one-sample spike shows in its bucket
    for seq in range(3):
        assert append(api, p, uuid, seq, values[seq * 1000 : (seq + 1) * 1000]).status_code == 200
    window = api.get(f"project/{p}/capture/{uuid}/plot/", params={"buckets": 10}).json()
    assert window["resolution"] == "buckets" and window["total"] == 3000
    assert window["sample_rate"] == 100.0 and window["index"] == list(range(0, 3000, 300))
    assert window["max"][0][4] == 1e6 and window["min"][1][9] == -2999.0
    assert window["min"][0] == [float(i) for i in range(0, 3000, 300)]
    # NaN cannot travel in JSON: refused by the request guard, like on every JSON route.
    nan = api.post(
        f"project/{p}/recordings/{uuid}/batches/",
        content=b'{"seq": 3, "values": [[NaN, 1]]}',
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code == 400 and "NaN is not valid JSON" in nan.json()["detail"]
    replaced = api.patch(
        f"project/{p}/capture/{uuid}/",
        files={"file": ("other.csv", b"x,y\n1,2\n", "text/csv")},
    )
    assert replaced.status_code == 409 and "recording live" in replaced.json()["detail"]
    renamed = api.patch(f"project/{p}/capture/{uuid}/", json={"name": "plot-2.csv"})
    assert renamed.status_code == 200 and renamed.json()["recording"] is True
    assert api.get(f"project/{p}/recordings/{uuid}/").json()["name"] == "plot-2.csv"
