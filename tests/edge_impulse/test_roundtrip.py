"""Export to Edge Impulse's layout and back; the HMAC key from the CLI and the SDK; the
capture as the SensiML SDK's routes show it; `serve --edge-impulse-ports`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from capturehub import Client
from capturehub.cli.main import cli
from tests.conftest import RunningServer
from tests.edge_impulse.conftest import EdgeImpulseProject, create_key
from tests.servers import free_port


def _client(ei_project: EdgeImpulseProject) -> Client:
    client = Client(server=ei_project.server.url, api_key=ei_project.server.api_key)
    client.project = ei_project.project["name"]
    return client


def _snapshot(client: Client) -> dict[str, Any]:
    """What must survive the trip: names, values, rates, labels, metadata."""
    found = {}
    for capture in client.project.captures.get_captures():
        data = capture.get_data()
        found[capture.name] = {
            "values": {c: data[c].tolist() for c in data.columns if c not in ("sequence",)},
            "rate": capture.set_sample_rate or capture.calculated_sample_rate,
            "segments": sorted((s.label, s.value, s.start, s.end) for s in capture.segments),
            "metadata": {k: v for k, v in capture.metadata.items() if k != "signature"},
            "units": {k: v.get("units") for k, v in capture.schema.items()},
        }
    return found


def test_export_to_edge_impulse_and_back(
    ei: Any, ei_project: EdgeImpulseProject, server: RunningServer, tmp_path: Path
) -> None:
    from edgeimpulse.data import Sample

    def doc(values: list[list[float]]) -> bytes:
        return json.dumps(
            {
                "protected": {"ver": "v1", "alg": "none", "iat": None},
                "signature": None,
                "payload": {
                    "device_name": "board-7",
                    "device_type": "NANO33",
                    "interval_ms": 10,
                    "sensors": [
                        {"name": "accX", "units": "m/s2"},
                        {"name": "gyrZ", "units": "dps"},
                    ],
                    "values": values,
                },
            }
        ).encode()

    samples = [
        Sample(
            filename="idle.01.json",
            data=doc([[i, -i] for i in range(30)]),
            label="idle",
            category="training",
            metadata={"subject": "S01"},
        ),
        Sample(
            filename="mixed.01.json",
            data=doc([[i * 2, 1] for i in range(30)]),
            category="testing",
            structured_labels=[
                {"startIndex": 0, "endIndex": 9, "label": "idle"},
                {"startIndex": 10, "endIndex": 29, "label": "wave"},
            ],
        ),
    ]
    response = ei.data.upload_samples(samples)
    assert len(response.fails) == 0, response.fails
    with _client(ei_project) as client:
        before = _snapshot(client)
        report = client.project.export(tmp_path / "dataset", format="edge-impulse")
    assert report.captures == 2
    assert before["mixed.01"]["segments"] == [("Label", "idle", 0, 9), ("Label", "wave", 10, 29)]
    # The CLI writes the same folder.
    cli_out = tmp_path / "from-cli"
    result = CliRunner().invoke(
        cli,
        ["export", "-p", ei_project.project["name"], "-f", "edge-impulse", "-o", str(cli_out)],
        env={
            "CAPTUREHUB_SERVER": server.url,
            "CAPTUREHUB_API_KEY": server.api_key,
            "XDG_CONFIG_HOME": str(tmp_path),
        },
    )
    assert result.exit_code == 0, result.output
    for name in ("info.labels", "training/idle.01.json", "testing/mixed.01.json"):
        assert (cli_out / name).read_bytes() == (tmp_path / "dataset" / name).read_bytes()
    info = json.loads((tmp_path / "dataset" / "info.labels").read_text())
    assert sorted(f["path"] for f in info["files"]) == [
        "testing/mixed.01.json",
        "training/idle.01.json",
    ]

    # Into a new project, through the Edge Impulse routes, with the SDK's own folder upload.
    with server.http() as api:
        other = api.post("project/", json={"name": ei_project.project["name"] + "-back"}).json()
    back = EdgeImpulseProject(server, other, create_key(server, server.username, other["name"]))
    ei.API_KEY = back.key
    response = ei.data.upload_directory(directory=str(tmp_path / "dataset"))
    assert len(response.fails) == 0, response.fails
    with _client(back) as client:
        after = _snapshot(client)
    assert after == before


def test_hmac_key_from_the_cli_the_sdk_and_the_studio_route(
    ei_project: EdgeImpulseProject, tmp_path: Path
) -> None:
    server = ei_project.server
    name = ei_project.project["name"]
    result = CliRunner().invoke(
        cli,
        ["project", "hmac-key", name],
        env={
            "CAPTUREHUB_SERVER": server.url,
            "CAPTUREHUB_API_KEY": server.api_key,
            "XDG_CONFIG_HOME": str(tmp_path),
        },
    )
    assert result.exit_code == 0, result.output
    from_cli = result.output.strip()
    with _client(ei_project) as client:
        assert client.project.edge_impulse_hmac_key() == from_cli
    with ei_project.http() as http:
        project_id = http.get("v1/api/projects").json()["projects"][0]["id"]
        assert http.get(f"v1/api/{project_id}/devkeys/hmac").json()["hmacKey"] == from_cli
    assert len(from_cli) == 32


def test_what_the_sensiml_sdk_routes_show(ei: Any, ei_project: EdgeImpulseProject) -> None:
    """The capture list and the segments route the SensiML SDK's get_captures() and
    label-relationship reads use: the upload is there, its label a segment."""
    from edgeimpulse.data import Sample

    body = b"timestamp,accX\n" + b"".join(f"{i * 5},{i}\n".encode() for i in range(40))
    response = ei.data.upload_samples(Sample(filename="walk.3.csv", data=body, label="walk"))
    assert len(response.fails) == 0, response.fails
    with ei_project.server.http() as api:
        (capture,) = api.get(f"project/{ei_project.uuid}/capture/").json()
        assert capture["name"] == "walk.3"
        assert capture["task_state"] == "SUCCESS"
        assert capture["calculated_sample_rate"] == 200.0
        (segment,) = api.get(
            f"project/{ei_project.uuid}/capture/{capture['uuid']}/label-relationship/"
        ).json()
        original = api.get(f"project/{ei_project.uuid}/capture/{capture['uuid']}/file/")
    assert (
        segment["label_name"],
        segment["value"],
        segment["capture_sample_sequence_start"],
        segment["capture_sample_sequence_end"],
    ) == ("Label", "walk", 0, 39)
    assert original.content == body


def test_serve_with_the_edge_impulse_ports(ei_project: EdgeImpulseProject, tmp_path: Path) -> None:
    """`capturehub serve --edge-impulse-ports` answers on the Studio and ingestion ports too
    (here set to free ports: 4800 and 4810 may be taken on a shared machine)."""
    process = ei_project.server.process
    port, studio, ingestion = free_port(), free_port(), free_port()
    env = process.settings_env()
    env["CAPTUREHUB_EDGE_IMPULSE_STUDIO_PORT"] = str(studio)
    env["CAPTUREHUB_EDGE_IMPULSE_INGESTION_PORT"] = str(ingestion)
    env["CAPTUREHUB_WORKERS"] = "0"
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "capturehub.cli.main",
            "serve",
            "--port",
            str(port),
            "--edge-impulse-ports",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/version/", timeout=1)
                break
            except httpx.TransportError:
                assert child.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        headers = {"x-api-key": ei_project.key}
        listed = httpx.get(f"http://127.0.0.1:{studio}/v1/api/projects", headers=headers)
        assert listed.json()["projects"][0]["name"] == ei_project.project["name"]
        uploaded = httpx.post(
            f"http://127.0.0.1:{ingestion}/api/training/files",
            headers=headers,
            files=[("data", ("tap.1.csv", b"timestamp,a\n0,1\n10,2\n"))],
        )
        assert uploaded.json()["files"][0]["success"] is True
    finally:
        child.terminate()
        child.wait(30)
        log.close()
