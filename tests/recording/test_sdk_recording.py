"""The SDK's and the CLI's side of live recording, and what a SensiML SDK client sees of a
project that holds a recording (wire-api §5: it must keep listing and waiting as before)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from capturehub import Client, ConflictError, ValidationError
from tests.cli.conftest import run_cli
from tests.conftest import RunningServer
from tests.recording.support import append, await_state, canonical_csv

# What the SensiML SDK's Capture.await_ready() does with a task_state (its published
# source): these make it sleep and ask again, these return, anything else raises.
SENSIML_UNREADY = {"STARTED", "RECEIVED", "RETRY", "SENT"}
SENSIML_READY = {"FAILURE", "REVOKED", "SUCCESS", None}


@pytest.fixture
def client(server: RunningServer, project_name: str) -> Any:
    with Client(server=server.url, username=server.username, password=server.password) as client:
        client.project = project_name
        yield client


def test_sdk_records_reads_while_recording_and_stops(client: Client, api: httpx.Client) -> None:
    recordings = client.project.recordings
    recording = recordings.start(
        "sdk-walk.csv", [("ax", "m/s^2"), "ay", {"name": "az", "units": "m/s^2"}], 50.0
    )
    assert recording.channels == ["ax", "ay", "az"] and recording.next_seq == 0
    first = np.arange(30, dtype=np.float64).reshape(10, 3) / 7
    second = [[1.5, -2.25, 3e-5], [4.0, 5.0, 6.0]]
    assert recording.append(first)["seq"] == 0
    ack = recording.append(second)
    assert ack == {
        "seq": 1,
        "duplicate": False,
        "samples": 12,
        "last_seq": 1,
        "first_sample": 10,
        "rows": 2,
    }
    assert recording.append(second, seq=1)["duplicate"] is True  # stored once
    with pytest.raises(ValidationError, match="row 1 has 2 values"):
        recording.append([[1.0, 2.0]])
    with pytest.raises(ValueError, match="finite numbers only"):
        recording.append([[1.0, float("nan"), 2.0]])

    # Our SDK and CLI show the recording state; reads answer what is stored so far.
    listed = client.list_captures()
    assert list(listed.loc[listed["name"] == "sdk-walk.csv", "task_state"]) == ["RECORDING"]
    capture = recording.capture
    assert capture.recording and capture.task_state == "RECORDING"
    assert capture.await_ready(sleep=0.01, retries=2) is False  # waits while recording
    expected = np.vstack([first, np.array(second)])
    np.testing.assert_array_equal(capture.get_data().to_numpy(), expected)
    np.testing.assert_array_equal(capture.get_data(start=9, end=11).to_numpy(), expected[9:11])
    assert [status["name"] for status in recordings.list()] == ["sdk-walk.csv"]

    resumed = recordings.get(recording.uuid)  # e.g. after this program restarted
    assert resumed.next_seq == 2
    resumed.append([[7.0, 8.0, 9.0]])
    status = resumed.stop()
    assert status["state"] == "stopped" and status["samples"] == 13
    assert status["bad_batches"] == 1 and status["stopped_by"] == "client"
    with pytest.raises(ConflictError, match="stopped"):
        resumed.append([[1.0, 2.0, 3.0]])
    assert recordings.list() == [] and len(recordings.list(all=True)) == 1

    capture = recording.capture
    assert capture.await_ready(sleep=0.2) is True
    assert capture.task_state == "SUCCESS" and not capture.recording
    rows = [*expected.tolist(), [7.0, 8.0, 9.0]]
    np.testing.assert_array_equal(capture.get_data().to_numpy(), np.array(rows))
    original = api.get(f"project/{client.project.uuid}/capture/{recording.uuid}/file/").content
    assert original == canonical_csv(["ax", "ay", "az"], rows)


def test_a_sensiml_client_lists_and_waits_on_a_project_holding_a_recording(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    upload = api.post(
        f"project/{p}/capture/",
        files={"file": ("done.csv", b"x,y\n1,2\n3,4\n", "text/csv")},
        data={"name": "done.csv", "asynchronous": "False"},
    )
    assert upload.status_code == 201, upload.text
    started = api.post(
        f"project/{p}/recordings/",
        json={"name": "live.csv", "channels": [{"name": "x"}, {"name": "y"}], "sample_rate": 10},
    ).json()
    api.post(
        f"project/{p}/recordings/{started['uuid']}/batches/", json={"seq": 0, "values": [[1, 2]]}
    )

    listed = {c["name"]: c for c in api.get(f"project/{p}/capture/").json()}
    assert set(listed) == {"done.csv", "live.csv"}
    live = listed["live.csv"]
    # get_captures() builds a Capture from every object: the fields it must never get.
    for forbidden in ("filename", "path", "capture_info", "connection", "project"):
        assert forbidden not in live
    # await_ready() sleeps on it instead of raising; ready is False until it is processed.
    assert live["task_state"] in SENSIML_UNREADY and live["recording"] is True
    assert listed["done.csv"]["task_state"] in SENSIML_READY
    one = api.get(f"project/{p}/capture/{started['uuid']}/").json()
    assert one["task_state"] in SENSIML_UNREADY
    statistics = {row["capture_name"]: row for row in api.get(f"project/{p}/statistics/").json()}
    assert statistics["live.csv"]["task_state"] == "SENT"
    # Filters: the wire's SENT is the uploads waiting; recordings have their own state.
    assert [c["name"] for c in api.get(f"project/{p}/capture/?task_state=RECORDING").json()] == [
        "live.csv"
    ]
    # Its file comes when it stops; segments once it is processed.
    file = api.get(f"project/{p}/capture/{started['uuid']}/file/")
    assert file.status_code == 409 and "is recording" in file.json()["detail"]
    label = api.post(f"project/{p}/label/", json={"name": "Activity", "type": "string"}).json()
    value = api.post(f"project/{p}/label/{label['uuid']}/labelvalue/", json={"value": "walk"})
    segment = api.post(
        f"project/{p}/capture/{started['uuid']}/label-relationship/",
        json={
            "label": label["uuid"],
            "label_value": value.json()["uuid"],
            "capture_sample_sequence_start": 0,
            "capture_sample_sequence_end": 1,
        },
    )
    assert segment.status_code == 409 and "still recording" in segment.json()["detail"]

    # A dataset version leaves out what has no file yet.
    version = api.post(f"project/{p}/versions/", json={"name": "v1"})
    assert version.status_code == 201, version.text
    pinned = api.get(f"project/{p}/versions/v1/capture/").json()
    assert [capture["name"] for capture in pinned] == ["done.csv"]

    api.post(f"project/{p}/recordings/{started['uuid']}/stop/")
    assert await_state(api, p, started["uuid"])["task_state"] in SENSIML_READY


def test_cli_lists_shows_and_stops_recordings(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    p = project["uuid"]
    started = api.post(
        f"project/{p}/recordings/",
        json={"name": "cli.csv", "channels": [{"name": "x", "units": "g"}], "sample_rate": 25},
    ).json()
    assert append(api, p, started["uuid"], 3, [[1]]).status_code == 200
    env: dict[str, str | None] = {
        "XDG_CONFIG_HOME": str(tmp_path),
        "CAPTUREHUB_SERVER": server.url,
        "CAPTUREHUB_API_KEY": server.api_key,
    }

    listed = run_cli(["recording", "ls", "--project", project["name"], "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row["name"] == "cli.csv" and row["samples"] == 1 and row["last_seq"] == 3

    shown = run_cli(["recording", "show", "cli.csv", "--project", project["name"]], env=env)
    assert shown.exit_code == 0, shown.output
    assert "x (g)" in shown.stdout and "recording" in shown.stdout

    ls = run_cli(["ls", "--project", project["name"], "--json"], env=env)
    assert ls.exit_code == 0, ls.output

    stopped = run_cli(
        ["recording", "stop", started["uuid"], "--project", project["name"], "--json"], env=env
    )
    assert stopped.exit_code == 0, stopped.output
    assert json.loads(stopped.stdout)[0]["state"] == "stopped"
    missing = run_cli(["recording", "stop", "nope", "--project", project["name"]], env=env)
    assert missing.exit_code != 0 and "no recording named 'nope'" in missing.output
