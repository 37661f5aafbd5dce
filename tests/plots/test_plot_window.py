"""``project/{p}/capture/{c}/plot/`` on real recordings: the samples of a small window, the
min/max of each bucket of a large one, equal to numpy's on the file's own values."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from tests.conftest import RunningServer
from tests.server.helpers import upload, wait_done

WATCH = "watch/captures/S01_0_ABD_007.csv"
DAPHNET = "daphnet/S06R02E0.csv"


def plot_url(project: dict[str, Any], capture: dict[str, Any]) -> str:
    return f"project/{project['uuid']}/capture/{capture['uuid']}/plot/"


def processed(api: httpx.Client, project: dict[str, Any], path: Path) -> dict[str, Any]:
    capture: dict[str, Any] = upload(api, project["uuid"], path).json()
    done = wait_done(api, project["uuid"], capture["uuid"])
    assert done["task_state"] == "SUCCESS", done["task_result"]
    return done


def nulls_as_nan(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def expected_extremes(samples: np.ndarray, edges: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """numpy's own min and max of each bucket ``[edges[i], edges[i + 1])``, NaN ignored."""
    lows, highs = [], []
    for low, high in itertools.pairwise(edges):
        part = samples[low:high].astype(np.float64)
        finite = part[~np.isnan(part)]
        lows.append(finite.min() if finite.size else np.nan)
        highs.append(finite.max() if finite.size else np.nan)
    return np.array(lows), np.array(highs)


def assert_buckets_match(body: dict[str, Any], frame: pd.DataFrame) -> None:
    edges = [*body["index"], body["end"]]
    assert edges[0] == body["start"]
    assert all(b > a for a, b in itertools.pairwise(edges)), "empty bucket"
    for position, channel in enumerate(body["channels"]):
        low, high = expected_extremes(frame[channel].to_numpy(), edges)
        np.testing.assert_array_equal(nulls_as_nan(body["min"][position]), low)
        np.testing.assert_array_equal(nulls_as_nan(body["max"][position]), high)


def test_small_window_answers_the_samples(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    capture = processed(api, project, shared_data / WATCH)
    frame = pd.read_csv(shared_data / WATCH)
    response = api.get(plot_url(project, capture), params={"start": 100, "end": 350})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resolution"] == "raw"
    assert (body["start"], body["end"], body["total"]) == (100, 350, len(frame))
    assert body["channels"] == list(frame.columns)
    assert body["index"] == list(range(100, 350))
    assert "min" not in body and "max" not in body
    for position, channel in enumerate(frame.columns):
        np.testing.assert_array_equal(
            np.array(body["values"][position]), frame[channel].to_numpy()[100:350]
        )


def test_whole_capture_in_buckets_equals_numpy(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    capture = processed(api, project, shared_data / DAPHNET)
    frame = pd.read_csv(shared_data / DAPHNET)
    url = plot_url(project, capture)
    for params in ({}, {"buckets": 7}, {"buckets": 1}, {"start": 13, "end": 5000, "buckets": 333}):
        response = api.get(url, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["resolution"] == "buckets"
        assert len(body["index"]) == params.get("buckets", 1000)
        assert body["total"] == len(frame)
        assert "timestamp" not in body["channels"]
        assert_buckets_match(body, frame)


def test_channels_are_chosen_and_past_the_end_is_clipped(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    capture = processed(api, project, shared_data / DAPHNET)
    frame = pd.read_csv(shared_data / DAPHNET)
    body = api.get(
        plot_url(project, capture),
        params={"channels": "trunk_vert,ankle_vert", "start": 6000, "end": 99_999, "buckets": 50},
    ).json()
    assert body["channels"] == ["trunk_vert", "ankle_vert"]
    assert (body["start"], body["end"]) == (6000, len(frame))
    assert len(body["min"]) == len(body["max"]) == 2
    assert_buckets_match(body, frame)


def test_missing_samples_are_null(
    api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    rows = ["a,b", *[f"{i},{'' if i % 3 == 0 else i * 2}" for i in range(30)]]
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(rows) + "\n")
    capture = processed(api, project, path)
    raw = api.get(plot_url(project, capture)).json()
    assert raw["values"][1][:4] == [None, 2, 4, None]
    # A bucket of only missing samples is null; NaN elsewhere is left out of min and max.
    buckets = api.get(plot_url(project, capture), params={"end": 4, "buckets": 3}).json()
    assert buckets["index"] == [0, 1, 2]
    assert buckets["min"][1] == [None, 2, 4]
    assert buckets["max"][1] == [None, 2, 4]


def test_bad_parameters_are_named(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    capture = processed(api, project, shared_data / WATCH)
    url = plot_url(project, capture)
    for params, field, status in (
        ({"buckets": 0}, "buckets", 400),
        ({"buckets": 4001}, "buckets", 400),
        ({"buckets": "many"}, "buckets", 400),
        ({"start": -1}, "start", 400),
        ({"start": 50, "end": 10}, "end", 400),
        ({"channels": "AccelerometerX,Nope"}, "channels", 400),
    ):
        response = api.get(url, params=params)
        assert response.status_code == status, (params, response.text)
        assert field in response.json()["data"], response.text
        assert field in response.json()["detail"]


def test_unprocessed_capture_is_a_conflict(
    api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("a,b\n1,2\nx,y,z,w\n")
    capture = upload(api, project["uuid"], path).json()
    done = wait_done(api, project["uuid"], capture["uuid"])
    assert done["task_state"] == "FAILURE"
    response = api.get(plot_url(project, capture))
    assert response.status_code == 409
    assert response.json()["status"] == 409
    assert "no samples to plot" in response.json()["detail"]


def test_another_team_gets_404(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    capture = processed(api, project, shared_data / WATCH)
    with server.http(server.other) as rival:
        response = rival.get(plot_url(project, capture))
    assert response.status_code == 404
    assert response.json()["status"] == 404
