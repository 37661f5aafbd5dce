"""Fixtures for the Edge Impulse routes: a fresh project of the real test server (SQLite and
PostgreSQL), its ``ei_`` key made with ``capturehub apikey create --edge-impulse``, and the
real ``edgeimpulse`` Python SDK pointed at the server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from capturehub.cli.main import cli
from tests.conftest import RunningServer


@dataclass
class EdgeImpulseProject:
    server: RunningServer
    project: dict[str, Any]
    key: str

    @property
    def uuid(self) -> str:
        return str(self.project["uuid"])

    @property
    def ingestion(self) -> str:
        return self.server.url.rstrip("/")

    @property
    def studio(self) -> str:
        return self.server.url + "v1"

    def http(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url, headers={"x-api-key": key or self.key}, timeout=120
        )


def create_key(server: RunningServer, username: str, project: str) -> str:
    """``capturehub apikey create --user U --project P --edge-impulse``: its last line."""
    env = {"CAPTUREHUB_DATA_DIR": str(server.data_dir)}
    if server.process.database_url:
        env["CAPTUREHUB_DATABASE_URL"] = server.process.database_url
    result = CliRunner().invoke(
        cli,
        ["apikey", "create", "--user", username, "--project", project, "--edge-impulse"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("ei_")
    return key


@pytest.fixture
def ei_project(server: RunningServer, project: dict[str, Any]) -> EdgeImpulseProject:
    return EdgeImpulseProject(server, project, create_key(server, server.username, project["name"]))


@pytest.fixture
def ei(ei_project: EdgeImpulseProject) -> Iterator[Any]:
    """The ``edgeimpulse`` module, configured for the project's key and the server."""
    import edgeimpulse

    saved = (edgeimpulse.API_KEY, edgeimpulse.API_ENDPOINT, edgeimpulse.INGESTION_ENDPOINT)
    edgeimpulse.API_KEY = ei_project.key
    edgeimpulse.API_ENDPOINT = ei_project.studio
    edgeimpulse.INGESTION_ENDPOINT = ei_project.ingestion
    try:
        yield edgeimpulse
    finally:
        edgeimpulse.API_KEY, edgeimpulse.API_ENDPOINT, edgeimpulse.INGESTION_ENDPOINT = saved
