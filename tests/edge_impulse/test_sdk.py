"""The real ``edgeimpulse`` Python SDK against capturehub: uploads, listing, download, delete."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx

from capturehub import Client
from tests.edge_impulse.conftest import EdgeImpulseProject


def acquisition(values: list[list[float]], interval_ms: float = 10.0) -> Any:
    from edgeimpulse.data.sample_type import DataAcquisition, Payload, Protected, Sensor

    return DataAcquisition(
        protected=Protected(),
        payload=Payload(
            device_type="TEST_BOARD",
            sensors=[Sensor(name="accX", units="m/s2"), Sensor(name="accY", units="m/s2")],
            values=values,
            interval_ms=interval_ms,
        ),
    )


def captures_of(ei_project: EdgeImpulseProject) -> list[dict[str, Any]]:
    with ei_project.server.http() as api:
        response = api.get(f"project/{ei_project.uuid}/capture/")
        assert response.status_code == 200, response.text
        listed: list[dict[str, Any]] = response.json()
        return listed


def test_upload_samples_of_an_acquisition_document(ei: Any, ei_project: EdgeImpulseProject) -> None:
    from edgeimpulse.data import Sample

    values = [[float(i), float(-i)] for i in range(50)]
    response = ei.data.upload_samples(
        [
            Sample(
                filename="wave.01.json",
                data=acquisition(values),
                category="training",
                label="wave",
                metadata={"subject": "S01"},
            )
        ]
    )
    assert len(response.fails) == 0, response.fails
    assert len(response.successes) == 1
    sample_id = response.successes[0].sample.sample_id
    assert isinstance(sample_id, int)

    with Client(server=ei_project.server.url, api_key=ei_project.server.api_key) as client:
        client.project = ei_project.project["name"]
        (capture,) = client.project.captures.get_captures()
        assert capture.name == "wave.01"
        assert capture.task_state == "SUCCESS"
        assert capture.set_sample_rate == 100.0
        assert capture.schema["accX"] == {"type": "float", "units": "m/s2"}
        data = capture.get_data()
        assert data["accX"].tolist() == [v[0] for v in values]
        assert data["accY"].tolist() == [v[1] for v in values]
        assert dict(capture.metadata) == {
            "subject": "S01",
            "category": "training",
            "device_type": "TEST_BOARD",
            "signature": "unsigned",
        }
        assert [(s.label, s.value, s.start, s.end) for s in capture.segments] == [
            ("Label", "wave", 0, 49)
        ]


def test_a_bad_key_gets_edge_impulse_s_error(ei_project: EdgeImpulseProject) -> None:
    for key in ("ei_" + "0" * 64, "", ei_project.server.api_key):
        response = httpx.post(
            ei_project.ingestion + "/api/training/files",
            headers={"x-api-key": key} if key else {},
            files=[("data", ("idle.01.csv", b"timestamp,a\n0,1\n10,2\n"))],
        )
        assert response.status_code == 401
        assert response.json() == {"success": False, "error": "Invalid API key"}
    assert captures_of(ei_project) == []


def csv_sample(
    name: str, label: str | None, category: str, rows: int = 20, offset: int = 0, **extra: Any
) -> Any:
    from edgeimpulse.data import Sample

    lines = ["timestamp,accX,accY"] + [f"{i * 20},{i + offset},{i * 2}" for i in range(rows)]
    return Sample(
        filename=name,
        data=io.BytesIO(("\n".join(lines) + "\n").encode()),
        category=category,
        label=label,
        **extra,
    )


def test_listing_download_and_delete_with_the_sdk(ei: Any, ei_project: EdgeImpulseProject) -> None:
    samples = [
        csv_sample("idle.01.csv", "idle", "training", metadata={"room": "lab"}),
        csv_sample("idle.02.csv", "idle", "testing", offset=100),
        csv_sample("wave.01.csv", "wave", "training", offset=200),
    ]
    response = ei.data.upload_samples(samples)
    assert len(response.fails) == 0, response.fails
    ids = {item.sample.filename: item.sample.sample_id for item in response.successes}

    training = ei.data.get_sample_ids(category="training")
    assert sorted((s.filename, s.label, s.category) for s in training) == [
        ("idle.01", "idle", "training"),
        ("wave.01", "wave", "training"),
    ]
    idle = ei.data.get_sample_ids(labels="idle")
    assert sorted(s.filename for s in idle) == ["idle.01", "idle.02"]
    assert {s.sample_id for s in idle} == {ids["idle.01.csv"], ids["idle.02.csv"]}

    (downloaded,) = ei.data.download_samples_by_ids(ids["idle.01.csv"])
    assert downloaded.label == "idle"
    assert downloaded.category == "training"
    assert downloaded.metadata == {"room": "lab"}
    document = json.loads(downloaded.data)
    assert document["payload"]["values"] == [[float(i), float(i * 2)] for i in range(20)]
    assert document["payload"]["interval_ms"] == 20.0
    assert [s["name"] for s in document["payload"]["sensors"]] == ["accX", "accY"]
    assert ei.data.get_filename_by_id(ids["wave.01.csv"]) == "wave.01"

    ei.data.delete_sample_by_id(ids["wave.01.csv"])
    assert [s.filename for s in ei.data.get_sample_ids(category="training")] == ["idle.01"]
    ei.data.delete_samples_by_filename("idle.02")
    assert ei.data.get_sample_ids(category="testing") == []
    ei.data.delete_all_samples()
    assert ei.data.get_sample_ids() == []
    assert captures_of(ei_project) == []


def test_upload_directory(ei: Any, ei_project: EdgeImpulseProject, tmp_path: Path) -> None:
    folder = tmp_path / "gestures"
    folder.mkdir()
    for index, label in enumerate(["idle", "idle", "wave"]):
        rows = [f"{i * 10},{i + 10 * index}" for i in range(10)]
        (folder / f"{label}.{index}.csv").write_text("timestamp,accX\n" + "\n".join(rows) + "\n")
    response = ei.data.upload_directory(directory=str(folder), category="testing")
    assert len(response.fails) == 0, response.fails
    assert len(response.successes) == 3
    found = sorted((s.filename, s.label, s.category) for s in ei.data.get_sample_ids())
    assert found == [
        ("idle.0", "idle", "testing"),
        ("idle.1", "idle", "testing"),
        ("wave.2", "wave", "testing"),
    ]


def test_upload_pandas_dataframes(ei: Any, ei_project: EdgeImpulseProject) -> None:
    import pandas as pd

    rows = pd.DataFrame(
        [["desk", "training", "One", -9.81, 0.03], ["field", "testing", "Two", -9.56, 5.34]],
        columns=["location", "category", "label", "accX", "accY"],
    )
    response = ei.data.upload_pandas_dataframe(
        rows,
        feature_cols=["accX", "accY"],
        label_col="label",
        category_col="category",
        metadata_cols=["location"],
    )
    assert len(response.fails) == 0, response.fails

    wide = pd.DataFrame(
        [[1, "up", *range(8)], [2, "down", *range(10, 18)]],
        columns=["id", "label", *[str(i) for i in range(8)]],
    )
    response = ei.data.upload_pandas_dataframe_wide(
        wide, label_col="label", metadata_cols=["id"], data_col_start=2, sample_rate_ms=100
    )
    assert len(response.fails) == 0, response.fails

    grouped = pd.DataFrame(
        [
            # Seconds: the SDK turns them into Edge Impulse's milliseconds.
            ["desk", "sample1", "training", "idle", i / 100, float(i), float(-i)]
            for i in range(5)
        ]
        + [
            ["field", "sample2", "testing", "wave", i / 100, float(i * 3), float(i)]
            for i in range(5)
        ],
        columns=["location", "sample_name", "category", "label", "timestamp", "accX", "accY"],
    )
    response = ei.data.upload_pandas_dataframe_with_group(
        grouped,
        timestamp_col="timestamp",
        group_by="sample_name",
        feature_cols=["accX", "accY"],
        label_col="label",
        category_col="category",
        metadata_cols=["location"],
    )
    assert len(response.fails) == 0, response.fails

    samples = {s.filename: s for s in ei.data.get_sample_ids()}
    labels = sorted(s.label for s in samples.values())
    assert labels == ["One", "Two", "down", "idle", "up", "wave"]
    (sample1,) = ei.data.download_samples_by_ids(samples["sample1"].sample_id)
    assert sample1.metadata == {"location": "desk"}
    assert sample1.category == "training"
    values = json.loads(sample1.data)["payload"]["values"]
    assert values == [[float(i), float(-i)] for i in range(5)]
    assert json.loads(sample1.data)["payload"]["interval_ms"] == 10.0


def test_upload_numpy(ei: Any, ei_project: EdgeImpulseProject) -> None:
    import numpy as np
    from edgeimpulse.data.sample_type import Sensor

    data = np.array(
        [[[i, i * 2.0, i * 3.0] for i in range(10)], [[-i, 0.5, 7.0] for i in range(10)]]
    )
    response = ei.data.upload_numpy(
        data=data,
        labels=["up", "down"],
        sensors=[
            Sensor(name="x", units="m/s2"),
            Sensor(name="y", units="m/s2"),
            Sensor(name="z", units="m/s2"),
        ],
        sample_rate_ms=20,
        metadata={"batch": "7"},
        category="training",
    )
    assert len(response.fails) == 0, response.fails
    by_label = {s.label: s for s in ei.data.get_sample_ids(category="training")}
    assert sorted(by_label) == ["down", "up"]
    (up,) = ei.data.download_samples_by_ids(by_label["up"].sample_id)
    payload = json.loads(up.data)["payload"]
    assert payload["values"] == data[0].tolist()
    assert payload["interval_ms"] == 20.0
    assert [(s["name"], s["units"]) for s in payload["sensors"]] == [
        ("x", "m/s2"),
        ("y", "m/s2"),
        ("z", "m/s2"),
    ]
    assert up.metadata == {"batch": "7"}
