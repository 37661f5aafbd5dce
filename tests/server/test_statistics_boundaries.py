"""Statistics whose data crosses the real block boundaries, checked against pandas/numpy.

* ``project/{p}/statistics/`` is written 500 captures a chunk (``statistics.service.BATCH``):
  a project of exactly two chunks, then of two chunks and a bit, must give one object per
  capture with the counts and metadata that pandas computes from what was stored.
* A capture's per-channel statistics are computed block by block while the file is parsed
  (CSV: a first block of 512 KiB, then 2 MiB blocks; WAV: 2^20 samples a block): files of
  several blocks must give numpy's count, min, max, mean, std and NaN count, and the stored
  columnar copy must hold every sample.

The block sizes are the product's own (no shrinking): the unit tests of ingest/ cover shrunk
ones.
"""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from capturehub.ingest.csvfile import BLOCK_BYTES, FIRST_BLOCK_BYTES
from capturehub.ingest.wavfile import SAMPLES_PER_BLOCK
from capturehub.server.statistics.service import BATCH
from tests.conftest import RunningServer
from tests.server.helpers import insert_capture_rows

ACTIVITIES = ["walk", "run", "sit"]
SUBJECTS = [f"S{i:02d}" for i in range(7)]


def _insert_captures(server: RunningServer, project_uuid: str, first: int, count: int) -> None:
    """Processed captures straight into the database (uploading a thousand files would take
    minutes): rows like the ones processing leaves, without files (statistics reads none)."""
    insert_capture_rows(
        server,
        project_uuid,
        [
            {
                "name": f"generated-{i:05d}",
                "format": ".csv",
                "file_size": 100 + i,
                "sha256": "0" * 64,
                "blob_key": f"none-{i}",
                "number_samples": 100,
                "max_sequence": 99,
                "set_sample_rate": 50,
                "task_state": "SUCCESS",
            }
            for i in range(first, first + count)
        ],
    )


def _label_captures(
    api: httpx.Client, p: str, captures: list[dict[str, Any]], labelled: set[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segments and metadata for the captures not yet labelled (bulk routes); what was sent,
    as frames."""
    segments, metadata = [], []
    for capture in captures:
        if capture["uuid"] in labelled:
            continue
        i = int(capture["name"].split("-")[1])
        for k in range(i % 4):
            segments.append(
                {
                    "capture": capture["uuid"],
                    "label": "activity",
                    "label_value": ACTIVITIES[(i + k) % 3],
                    "capture_sample_sequence_start": k * 10,
                    "capture_sample_sequence_end": k * 10 + 5,
                }
            )
        if i % 3:
            metadata.append(
                {"capture": capture["uuid"], "label": "subject", "label_value": SUBJECTS[i % 7]}
            )
        if i % 2 == 0:
            metadata.append(
                {"capture": capture["uuid"], "label": "age", "label_value": 20 + i % 50}
            )
        labelled.add(capture["uuid"])
    if segments:
        sent = api.post(f"project/{p}/label-relationship/", json=segments)
        assert sent.status_code == 201, sent.text[:500]
    if metadata:
        sent = api.post(f"project/{p}/metadata-relationship/", json=metadata)
        assert sent.status_code == 201, sent.text[:500]
    return pd.DataFrame(segments), pd.DataFrame(metadata)


def _check_statistics(
    api: httpx.Client, p: str, segments: pd.DataFrame, metadata: pd.DataFrame
) -> None:
    captures = api.get(f"project/{p}/capture/", params={"ordering": "created_at"}).json()
    response = api.get(f"project/{p}/statistics/")
    assert response.status_code == 200
    rows = json.loads(response.text)  # one valid JSON array across the chunks
    assert [row["capture_uuid"] for row in rows] == [c["uuid"] for c in captures]
    # Expected, with pandas: counts per capture and value, zeros included; metadata per key.
    counts = (
        segments.groupby(["capture", "label_value"])
        .size()
        .unstack(fill_value=0)
        .reindex(index=[c["uuid"] for c in captures], columns=ACTIVITIES, fill_value=0)
    )
    keys = metadata.pivot(index="capture", columns="label", values="label_value")
    keys = keys.reindex(index=[c["uuid"] for c in captures], columns=["subject", "age"])
    for row, capture in zip(rows, captures, strict=True):
        expected = counts.loc[capture["uuid"]]
        assert row["capture_name"] == capture["name"]
        assert {v["value"]: v["count"] for v in row["event_labels"]["activity"]} == {
            value: int(expected[value]) for value in ACTIVITIES
        }, row
        assert row["total_event_count"] == int(expected.sum())
        subject, age = keys.loc[capture["uuid"]]
        assert row["metadata"] == {
            "subject": None if pd.isna(subject) else subject,
            "age": None if pd.isna(age) else int(age),
        }, row
        assert row["number_samples"] == capture["number_samples"]
        assert row["file_size"] == capture["file_size"]


def test_project_statistics_across_its_chunks(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    made = api.post(f"project/{p}/label/", json={"name": "activity", "values": ACTIVITIES})
    assert made.status_code == 201, made.text
    for name, kind in (("subject", "string"), ("age", "integer")):
        made = api.post(
            f"project/{p}/metadata/", json={"name": name, "type": kind, "is_dropdown": False}
        )
        assert made.status_code == 201, made.text
    labelled: set[str] = set()
    sent_segments, sent_metadata = [], []
    # Exactly two chunks, then two chunks and three captures.
    for first, count in ((0, 2 * BATCH), (2 * BATCH, 3)):
        _insert_captures(server, p, first, count)
        captures = api.get(f"project/{p}/capture/").json()
        assert len(captures) == first + count
        segments, metadata = _label_captures(api, p, captures, labelled)
        sent_segments.append(segments)
        sent_metadata.append(metadata)
        _check_statistics(api, p, pd.concat(sent_segments), pd.concat(sent_metadata))


def _upload(api: httpx.Client, p: str, name: str, body: bytes) -> dict[str, Any]:
    response = api.post(
        f"project/{p}/capture/",
        data={"name": name, "asynchronous": "False"},
        files={"file": (name, body)},
        timeout=300,
    )
    assert response.status_code == 201, response.text
    capture: dict[str, Any] = response.json()
    return capture


def _stored_frame(api: httpx.Client, p: str, capture: dict[str, Any]) -> pd.DataFrame:
    response = api.get(
        f"project/{p}/capture/{capture['uuid']}/data/",
        headers={"Accept": "application/vnd.apache.arrow.stream"},
        timeout=300,
    )
    assert response.status_code == 200, response.text[:300]
    frame: pd.DataFrame = pa.ipc.open_stream(io.BytesIO(response.content)).read_all().to_pandas()
    return frame


def _check_channels(capture: dict[str, Any], expected: pd.DataFrame) -> None:
    statistics = capture["statistics"]
    assert set(statistics) >= set(expected.columns)
    for name in expected.columns:
        values = expected[name].to_numpy(dtype=np.float64)
        present = values[~np.isnan(values)]
        got = statistics[name]
        assert got["count"] == len(present), name
        assert got["nan_count"] == int(np.isnan(values).sum()), name
        assert got["min"] == present.min() and got["max"] == present.max(), name
        assert got["mean"] == pytest.approx(present.mean(), rel=1e-12, abs=1e-12), name
        assert got["std"] == pytest.approx(present.std(), rel=1e-9, abs=1e-12), name


def test_capture_statistics_of_a_csv_of_many_blocks(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    rng = np.random.default_rng(7)
    rows = 300_000  # about 10 MB: the first block and four 2 MiB blocks
    frame = pd.DataFrame(
        {
            "AccelX": rng.normal(1000.0, 50.0, rows).round(4),
            "AccelY": rng.integers(-32768, 32767, rows),
            "GyroZ": rng.uniform(-1e-3, 1e-3, rows).round(9),
        }
    )
    gaps = rng.choice(rows, 40, replace=False)  # empty cells: missing samples, in every block
    frame["AccelX"] = frame["AccelX"].astype("float64")
    frame.loc[gaps, "AccelX"] = np.nan
    body = frame.to_csv(index=False).encode()
    assert len(body) > FIRST_BLOCK_BYTES + 3 * BLOCK_BYTES
    expected = pd.read_csv(io.BytesIO(body))  # pandas' own reading of the same bytes
    capture = _upload(api, project["uuid"], "blocks.csv", body)
    assert capture["number_samples"] == rows
    _check_channels(capture, expected)
    stored = _stored_frame(api, project["uuid"], capture)
    for name in expected.columns:
        np.testing.assert_array_equal(stored[name].to_numpy(dtype=np.float64), expected[name])


def test_capture_statistics_of_a_wav_of_many_blocks(
    api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    rng = np.random.default_rng(11)
    channels = 2
    frames = 3 * SAMPLES_PER_BLOCK // channels + 12_345  # three blocks and a part
    samples = rng.integers(-32768, 32767, (frames, channels), dtype=np.int16)
    samples[frames // 2] = [32767, -32768]
    path = tmp_path / "blocks.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(samples.astype("<i2").tobytes())
    capture = _upload(api, project["uuid"], "blocks.wav", path.read_bytes())
    assert capture["number_samples"] == frames
    expected = pd.DataFrame({f"channel_{i}": samples[:, i] for i in range(channels)})
    _check_channels(capture, expected)
    stored = _stored_frame(api, project["uuid"], capture)
    for name in expected.columns:
        np.testing.assert_array_equal(stored[name].to_numpy(), expected[name].to_numpy())
