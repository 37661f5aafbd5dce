"""The real ``edgeimpulse`` Python SDK against capturehub: uploads, listing, download, delete."""

from __future__ import annotations

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
