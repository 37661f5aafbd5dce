"""A server whose files live in S3 (SeaweedFS): upload, processing (the original read back
through the store, the columnar copy written to S3), get_data() and its slices read by ranges,
downloads whole and by Range, plot windows; nothing is kept in the data directory's blobs."""

from __future__ import annotations

import wave
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from capturehub import Client
from tests.conftest import RunningServer
from tests.plots.test_plot_pyramid import with_plot_pyramid
from tests.s3.conftest import store_of
from tests.s3server import SeaweedFS

SLICES = [(None, None), (10, 20), (0, 1), (5, None), (None, 7), (30, 30), (10**9, None)]


@pytest.fixture
def client(s3_server: RunningServer, project_name: str) -> Client:
    client = Client(server=s3_server.url, username=s3_server.username, password=s3_server.password)
    client.project = project_name
    return client


def test_upload_process_read_and_download_through_s3(
    s3_server: RunningServer,
    seaweedfs: SeaweedFS,
    client: Client,
    shared_data: Path,
    tmp_path: Path,
) -> None:
    csv = sorted((shared_data / "watch" / "captures").glob("*.csv"))[0]
    wav = shared_data / "audio" / "deermouse-go.wav"
    captures = client.project.captures
    from_csv = captures.create_capture(csv.name, csv, asynchronous=False)
    from_wav = captures.create_capture(wav.name, wav, asynchronous=False)
    assert from_csv.task_state == "SUCCESS" and from_wav.task_state == "SUCCESS"

    # Both files, both columnar copies and both plot pyramids are objects of the bucket; the
    # server's data directory holds no blob.
    with s3_server.http() as api:
        for capture in (from_csv, from_wav):
            with_plot_pyramid(api, f"project/{client.project.uuid}/capture/{capture.uuid}/plot/")
    store = store_of(s3_server, seaweedfs, tmp_path)
    keys = list(store.list("captures/"))
    assert len(keys) == 6, keys
    local_blobs = s3_server.data_dir / "blobs"
    assert not local_blobs.exists() or not any(p.is_file() for p in local_blobs.rglob("*"))

    expected = pd.read_csv(csv)
    frame = from_csv.get_data()
    assert client.connection.reads_local_files is not True  # S3: nothing read in place
    assert list(frame.columns)[: len(expected.columns)] == list(expected.columns)
    for column in expected.columns:
        np.testing.assert_array_equal(frame[column].to_numpy(), expected[column].to_numpy())
    for start, end in SLICES:
        pd.testing.assert_frame_equal(
            from_csv.get_data(start, end),
            frame.iloc[slice(start, end)].reset_index(drop=True),
        )
    with wave.open(str(wav)) as audio:
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    np.testing.assert_array_equal(from_wav.get_data()["channel_0"].to_numpy(), samples)
    tail = from_wav.get_data(len(samples) - 1000, None)
    np.testing.assert_array_equal(tail["channel_0"].to_numpy(), samples[-1000:])

    for capture, source in ((from_csv, csv), (from_wav, wav)):
        assert capture.download(tmp_path / "down").read_bytes() == source.read_bytes()

    with s3_server.http() as api:
        url = f"project/{client.project.uuid}/capture/{from_wav.uuid}/file/"
        part = api.get(url, headers={"Range": "bytes=100-1123"})
        assert part.status_code == 206
        assert part.content == wav.read_bytes()[100:1124]
        window = api.get(
            f"project/{client.project.uuid}/capture/{from_wav.uuid}/plot/",
            params={"start": 0, "end": 100},
        )
        assert window.status_code == 200, window.text


def test_deleting_a_capture_removes_its_objects(
    s3_server: RunningServer,
    seaweedfs: SeaweedFS,
    client: Client,
    shared_data: Path,
    tmp_path: Path,
) -> None:
    csv = sorted((shared_data / "watch" / "captures").glob("*.csv"))[1]
    capture = client.project.captures.create_capture(csv.name, csv, asynchronous=False)
    store = store_of(s3_server, seaweedfs, tmp_path)
    prefix = f"captures/{client.project.uuid}/{capture.uuid}/"
    with s3_server.http() as api:
        with_plot_pyramid(api, f"project/{client.project.uuid}/capture/{capture.uuid}/plot/")
    assert len(list(store.list(prefix))) == 3  # the original, columnar copy, plot pyramid
    with s3_server.http() as api:
        url = f"project/{client.project.uuid}/capture/{capture.uuid}/"
        assert api.delete(url).status_code == 204
    deadline_checks = 0
    while list(store.list(prefix)) and deadline_checks < 200:  # deletes run as a job
        deadline_checks += 1
        httpx.get(s3_server.url + "version/")
    assert list(store.list(prefix)) == []


def test_plot_pyramid_in_s3_answers_like_numpy(
    s3_server: RunningServer,
    seaweedfs: SeaweedFS,
    client: Client,
    shared_data: Path,
    tmp_path: Path,
) -> None:
    """The pyramid is stored through the blob store (an object beside the columnar copy) and
    windows read from it by ranges give numpy's min/max of the samples."""
    from tests.plots.test_plot_window import DAPHNET, assert_buckets_match

    recording = shared_data / DAPHNET
    capture = client.project.captures.create_capture("daphnet.csv", recording)
    url = f"project/{client.project.uuid}/capture/{capture.uuid}/plot/"
    frame = pd.read_csv(recording)
    with s3_server.http() as api:
        with_plot_pyramid(api, url)
        store = store_of(s3_server, seaweedfs, tmp_path)
        prefix = f"captures/{client.project.uuid}/{capture.uuid}/"
        assert any("plot-pyramid-" in key for key in store.list(prefix))
        for params in ({"buckets": 3}, {"buckets": 10}, {"start": 99, "end": 6001, "buckets": 40}):
            body = api.get(url, params=params).json()
            assert body["level"] is not None
            assert_buckets_match(body, frame)
