"""The min/max pyramid behind the plot window: built after processing, answering exactly what
numpy computes on the samples for the same bucket edges, keeping a one-sample spike at every
zoom, and found by fsck when missing."""

from __future__ import annotations

import time
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from capturehub.server.fsck import fsck
from capturehub.server.storage_keys import CaptureFiles
from tests.conftest import RunningServer
from tests.plots.test_plot_window import DAPHNET, WATCH, assert_buckets_match, plot_url, processed

LONG_SAMPLES = 10_000_000
SPIKE_AT = 6_543_211
SPIKE = 32_000


def with_plot_pyramid(api: httpx.Client, url: str, timeout: float = 120) -> None:
    """Wait for the "build plot pyramid" job: the coarsest window is then read from a level."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(url, params={"buckets": 1}).json()
        if body.get("level") is not None:
            return
        time.sleep(0.05)
    raise AssertionError(f"no plot pyramid after {timeout} s")


@pytest.mark.parametrize("recording", [DAPHNET, WATCH])
def test_buckets_from_the_pyramid_equal_numpy(
    api: httpx.Client, project: dict[str, Any], shared_data: Path, recording: str
) -> None:
    capture = processed(api, project, shared_data / recording)
    frame = pd.read_csv(shared_data / recording)
    url = plot_url(project, capture)
    with_plot_pyramid(api, url)
    total = len(frame)
    levels = set()
    for params in (
        {"buckets": 1},
        {"buckets": 3},
        {"buckets": 10},
        {"buckets": 25, "start": 17},
        {"buckets": 40, "start": 100, "end": total - 333},
        {"buckets": 7, "start": 1000, "end": 2001},
    ):
        body = api.get(url, params=params).json()
        assert body["resolution"] == "buckets"
        assert len(body["index"]) == params["buckets"]
        assert_buckets_match(body, frame)
        levels.add(body["level"])
    assert len(levels - {None}) >= 2, levels  # read from several levels of the pyramid


def long_recording(path: Path) -> np.ndarray:
    """10 M samples of two int16 channels (a WAV: quick to write and to ingest): noise, and a
    slow sine with one sample far above everything else."""
    rng = np.random.default_rng(16)
    samples = np.empty((LONG_SAMPLES, 2), dtype=np.int16)
    samples[:, 0] = rng.integers(-3000, 3000, LONG_SAMPLES, dtype=np.int16)
    samples[:, 1] = (8000 * np.sin(np.arange(LONG_SAMPLES) / 50_000)).astype(np.int16)
    samples[SPIKE_AT, 1] = SPIKE
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(samples.tobytes())
    return samples


def numpy_extremes(samples: np.ndarray, body: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.array(body["index"]) - body["start"]
    part = samples[body["start"] : body["end"]]
    return np.minimum.reduceat(part, offsets), np.maximum.reduceat(part, offsets)


def test_a_spike_in_ten_million_samples_shows_at_every_zoom(
    api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "long.wav"
    samples = long_recording(path)
    capture = processed(api, project, path)
    url = plot_url(project, capture)
    with_plot_pyramid(api, url)
    seen_levels = set()
    # From the whole capture down to 100 samples around the spike, 4 000 to 1 000 buckets.
    for width in (LONG_SAMPLES, 3_000_000, 1_000_000, 250_000, 60_000, 10_000, 2_000, 100):
        start = max(0, SPIKE_AT - width // 3)
        for buckets in (4000, 2000, 1000):
            body = api.get(
                url, params={"start": start, "end": start + width, "buckets": buckets}
            ).json()
            assert body["total"] == LONG_SAMPLES
            assert body["sample_rate"] == 16_000
            assert body["channels"] == ["channel_0", "channel_1"]
            if body["resolution"] == "raw":
                assert max(body["values"][1]) == SPIKE
                continue
            seen_levels.add(body["level"])
            spike_bucket = int(np.searchsorted(body["index"], SPIKE_AT, side="right")) - 1
            assert body["max"][1][spike_bucket] == SPIKE, (width, buckets, body["level"])
            low, high = numpy_extremes(samples, body)
            for channel in range(2):
                assert body["min"][channel] == low[:, channel].tolist()
                assert body["max"][channel] == high[:, channel].tolist()
    # The zooms were read from the pyramid's levels, finest to coarsest, and from the samples.
    assert {None, 32, 128, 512, 2048} <= seen_levels, seen_levels


def test_fsck_builds_a_missing_pyramid_and_the_plot_works_meanwhile(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    capture = processed(api, project, shared_data / DAPHNET)
    frame = pd.read_csv(shared_data / DAPHNET)
    url = plot_url(project, capture)
    with_plot_pyramid(api, url)
    context = server.process.context()
    try:
        # As for a capture processed before plot pyramids existed.
        (original,) = [
            key
            for key in context.blobs.list(f"captures/{project['uuid']}/{capture['uuid']}/")
            if "original" in key
        ]
        key = CaptureFiles.of(original).plot_pyramid
        context.blobs.delete(key)
        body = api.get(url, params={"buckets": 10}).json()
        assert body["level"] is None  # from the columnar copy, the same buckets
        assert_buckets_match(body, frame)
        report = fsck(context)
        assert capture["uuid"] in report.missing_plot_pyramids
        assert key not in report.orphan_blobs
        fsck(context, repair=True)
        assert context.blobs.exists(key)
        assert capture["uuid"] not in fsck(context).missing_plot_pyramids
    finally:
        context.db.dispose()
    body = api.get(url, params={"buckets": 10}).json()
    assert body["level"] == 512  # 704 samples a bucket: the 512-sample level
    assert_buckets_match(body, frame)


def test_deleting_a_capture_deletes_its_pyramid(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    capture = processed(api, project, shared_data / DAPHNET)
    with_plot_pyramid(api, plot_url(project, capture))
    folder = f"captures/{project['uuid']}/{capture['uuid']}/"
    context = server.process.context()
    try:
        assert any("plot-pyramid" in key for key in context.blobs.list(folder))
        assert (
            api.delete(f"project/{project['uuid']}/capture/{capture['uuid']}/").status_code == 204
        )
        deadline = time.monotonic() + 30
        while list(context.blobs.list(folder)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(context.blobs.list(folder)) == []
    finally:
        context.db.dispose()
