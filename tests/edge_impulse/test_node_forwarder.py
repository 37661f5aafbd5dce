"""Edge Impulse's data forwarder library (npm ``edge-impulse-linux``, run by Node) uploading to
``capturehub serve --edge-impulse-ports`` with ``EI_HOST=localhost``, as docs/edge-impulse.md
says. The library sends to the fixed port 4810 for localhost, so the test needs that port.

The package is installed by .ci/run into ~/.cache/capturehub-test-node (with
``--ignore-scripts``: the forwarder needs none of its native image libraries)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.edge_impulse.conftest import EdgeImpulseProject
from tests.servers import REQUIRE_SERVICES, free_port

NODE_MODULES = Path.home() / ".cache" / "capturehub-test-node" / "node_modules"
SCRIPT = """
// The data forwarder alone: the package's index also loads its image classifier (sharp).
const { DataForwarder } = require('edge-impulse-linux/build/library/data-forwarder');
const forwarder = new DataForwarder({
    deviceId: 'forwarder-1', deviceType: 'NODE_TEST', sensors: [
        { name: 'accX', units: 'm/s2' }, { name: 'accY', units: 'm/s2' }],
    intervalMs: 5, apiKey: process.argv[2], hmacKey: process.argv[3] });
for (let i = 0; i < 40; i++) forwarder.addData([i, -i]);
forwarder.upload({ filename: 'tap.1', label: 'knock knock', category: 'training' })
    .then(name => console.log(JSON.stringify({ name })))
    .catch(error => { console.error(String(error)); process.exit(1); });
"""


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_MODULES / "edge-impulse-linux").exists():
        return f"npm edge-impulse-linux is not installed in {NODE_MODULES} (see .ci/run)"
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 4810))
        except OSError:
            return "port 4810 is taken on this machine"
    return None


def test_the_data_forwarder_uploads_with_ei_host_localhost(
    ei_project: EdgeImpulseProject, tmp_path: Path
) -> None:
    reason = _missing()
    if reason:
        if REQUIRE_SERVICES and "port" not in reason:
            pytest.fail(f"{reason} (CAPTUREHUB_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    process = ei_project.server.process
    port = free_port()
    env = process.settings_env()
    env["CAPTUREHUB_EDGE_IMPULSE_STUDIO_PORT"] = str(free_port())
    env["CAPTUREHUB_WORKERS"] = "0"
    with ei_project.http() as http:
        project_id = http.get("v1/api/projects").json()["projects"][0]["id"]
        hmac_key = http.get(f"v1/api/{project_id}/devkeys/hmac").json()["hmacKey"]
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
                httpx.get("http://127.0.0.1:4810/version/", timeout=1)
                break
            except httpx.TransportError:
                assert child.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        script = tmp_path / "forward.js"
        script.write_text(SCRIPT)
        result = subprocess.run(
            ["node", str(script), ei_project.key, hmac_key],
            env={
                "EI_HOST": "localhost",
                "NODE_PATH": str(NODE_MODULES),
                "PATH": "/usr/bin:/bin:/usr/local/bin",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"name": "tap.1"}
        listed = httpx.get(
            f"http://127.0.0.1:4810/v1/api/{project_id}/raw-data",
            params={"category": "training"},
            headers={"x-api-key": ei_project.key},
        ).json()["samples"]
    finally:
        child.terminate()
        child.wait(30)
        log.close()
    (sample,) = listed
    assert (sample["filename"], sample["label"], sample["valuesCount"]) == (
        "tap.1",
        "knock knock",
        40,
    )
    assert sample["signatureValidate"] is True
    assert sample["intervalMs"] == 5.0
    assert sample["deviceType"] == "NODE_TEST"
