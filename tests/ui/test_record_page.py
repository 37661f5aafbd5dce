"""The Record page in Chromium, its motion sensors emulated through the DevTools protocol: the
recorded capture's samples are the readings (Chromium rounds them to 0.1), the label becomes a
segment over the whole capture; and the capture page's plot follows a growing recording."""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np
from playwright.sync_api import expect

from capturehub import Client
from tests.ui.conftest import Browsing
from tests.ui.helpers import eventually, new_project

SENSORS = ("accelerometer", "linear-acceleration", "gyroscope")


def _readings(step: int) -> dict[str, dict[str, float]]:
    """What each emulated sensor reads at ``step`` (the gyroscope in rad/s)."""
    return {
        "accelerometer": {"x": 1.2 + step, "y": -3.4, "z": 9.8},
        "linear-acceleration": {"x": 0.5, "y": -0.7 - step, "z": 2.1},
        "gyroscope": {"x": 0.1, "y": -0.2, "z": 0.3 + step / 10},
    }


def _expected_row(step: int) -> list[float]:
    """The page's row for those readings: DeviceMotionEvent gives the rotation rate in deg/s,
    and Chromium fills alpha, beta and gamma from the gyroscope's x, y and z."""
    r = _readings(step)
    acc, lin, gyro = r["accelerometer"], r["linear-acceleration"], r["gyroscope"]
    degrees = [math.degrees(gyro[axis]) for axis in ("x", "y", "z")]
    return [acc["x"], acc["y"], acc["z"], lin["x"], lin["y"], lin["z"], *degrees]


def _set(cdp: Any, step: int) -> None:
    for sensor, xyz in _readings(step).items():
        cdp.send("Emulation.setSensorOverrideReadings", {"type": sensor, "reading": {"xyz": xyz}})


def _stored(ui: Browsing) -> int:
    return int(ui.page.locator("#record-stored").inner_text().replace(",", ""))


def test_a_phone_records_its_motion_into_a_labelled_capture(ui: Browsing) -> None:
    page = ui.page
    with ui.api() as http:
        project = new_project(http, f"phone-{uuid.uuid4().hex[:8]}")
        # A project whose name reads like a field's label must not be taken for that field.
        new_project(http, f"Label value, Capture name {uuid.uuid4().hex[:8]}")
    cdp = page.context.new_cdp_session(page)
    for sensor in SENSORS:  # before the page loads, as Chromium wants
        cdp.send("Emulation.setSensorOverrideEnabled", {"enabled": True, "type": sensor})
    _set(cdp, 0)
    ui.goto(f"record/?project={project['uuid']}")
    expect(page.get_by_label("Project", exact=True)).to_have_value(project["uuid"])
    page.get_by_label("Capture name", exact=True).fill("walk-phone")
    for title in ("Acceleration with gravity", "Acceleration without gravity", "Rotation rate"):
        page.get_by_label(title).check()
    page.get_by_label("Label value", exact=True).fill("walking")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#record-state")).to_have_text("recording", timeout=30_000)
    eventually(lambda: _check(_stored(ui) >= 30), seconds=30)
    _set(cdp, 1)
    stored_then = _stored(ui)
    eventually(lambda: _check(_stored(ui) >= stored_then + 30), seconds=30)
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#record-state")).to_have_text("stopped", timeout=120_000)
    expect(page.get_by_role("status")).to_contain_text("Recorded")
    assert page.locator("#record-acks").inner_text() != "0"
    assert "Hz" in page.locator("#record-rate").inner_text()

    with ui.api() as http:
        captures = http.get(f"project/{project['uuid']}/capture/").json()
        (capture,) = [c for c in captures if c["name"] == "walk-phone"]
        assert capture["task_state"] == "SUCCESS"
        segments = http.get(
            f"project/{project['uuid']}/capture/{capture['uuid']}/label-relationship/"
        ).json()
    with Client(server=ui.server.url, api_key=ui.server.api_key) as client:
        client.project = project["name"]
        found = client.project.captures.get_capture_by_uuid(capture["uuid"])
        assert found is not None
        frame = found.get_data()
    channels = [
        "AccelerometerX",
        "AccelerometerY",
        "AccelerometerZ",
        "LinearAccelerationX",
        "LinearAccelerationY",
        "LinearAccelerationZ",
        "RotationRateAlpha",
        "RotationRateBeta",
        "RotationRateGamma",
    ]
    rows = frame[channels].to_numpy()
    assert len(rows) == capture["number_samples"] >= 60
    # Each sensor's three values in every row are its first or its second readings, as
    # Chromium rounds them (to 0.1): the first until the readings changed, then the second
    # (the three sensors change one after the other, so a row may mix them).
    first, second = (np.round(np.array(_expected_row(step)), 1) for step in (0, 1))
    rounded = np.round(rows, 1)
    for columns in (slice(0, 3), slice(3, 6), slice(6, 9)):
        is_first = np.all(np.isclose(rounded[:, columns], first[columns], atol=0.051), axis=1)
        is_second = np.all(np.isclose(rounded[:, columns], second[columns], atol=0.051), axis=1)
        assert np.all(is_first | is_second), rows[~(is_first | is_second)][:3]
        switch = int(np.argmax(is_second))
        assert switch > 0 and is_first[:switch].all() and is_second[switch:].all()
    # The label value is one segment over the whole capture.
    assert [
        (s["label_name"], s["value"], s["capture_sample_sequence_start"]) for s in segments
    ] == [("Label", "walking", 0)]
    assert segments[0]["capture_sample_sequence_end"] == len(rows) - 1


def _check(condition: bool) -> None:
    assert condition


def test_the_capture_page_follows_a_growing_recording(ui: Browsing) -> None:
    page = ui.page
    with ui.api() as http:
        project = new_project(http, f"follow-{uuid.uuid4().hex[:8]}")
        p = project["uuid"]
        status = http.post(
            f"project/{p}/recordings/",
            json={"name": "growing", "channels": [{"name": "X"}, {"name": "Y"}], "sample_rate": 50},
        ).json()
        c = status["uuid"]

        def append(seq: int) -> None:
            values = [[math.sin(i / 10), math.cos(i / 10)] for i in range(seq * 50, seq * 50 + 50)]
            answer = http.post(
                f"project/{p}/recordings/{c}/batches/", json={"seq": seq, "values": values}
            )
            assert answer.status_code == 200, answer.text

        append(0)
        ui.goto(f"projects/{p}/captures/{c}/")
        plot = page.get_by_role("region", name="Signal plot")
        expect(page.locator("#recording-note")).to_be_visible()

        def shows_up_to(samples: int) -> None:
            # The plot's x range ends at the last sample (index samples - 1) or just past it.
            x_max = float(plot.get_attribute("data-x-max") or 0)
            assert samples - 1.5 <= x_max <= samples + 0.5, x_max

        eventually(lambda: shows_up_to(50))
        for seq in (1, 2, 3):
            append(seq)
            eventually(lambda: shows_up_to(50 * (seq + 1)))  # noqa: B023 (awaited here)
        assert http.post(f"project/{p}/recordings/{c}/stop/").status_code == 200
    expect(page.locator("#plot-status")).to_contain_text("stopped at 200 samples", timeout=15_000)
