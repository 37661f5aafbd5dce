"""Fixtures for the SDK tests: a logged-in Client on a fresh project of the real test server,
and the shared recordings (watch CSVs with their manifest, audio WAVs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capturehub import Captures, Client
from tests.conftest import RunningServer
from tests.sdk.proxy import FaultProxy, fault_proxy


@pytest.fixture
def client(server: RunningServer, project_name: str) -> Iterator[Client]:
    """A client logged in with a password, on a fresh project."""
    with Client(server=server.url, username=server.username, password=server.password) as client:
        client.project = project_name
        yield client


@pytest.fixture
def captures(client: Client) -> Captures:
    return client.project.captures


@pytest.fixture(scope="session")
def watch_manifest(shared_data: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        (shared_data / "watch" / "manifest.json").read_text()
    )
    return sorted(entries, key=lambda entry: entry["file"])


@pytest.fixture(scope="session")
def watch_files(shared_data: Path, watch_manifest: list[dict[str, Any]]) -> list[Path]:
    """The watch recordings (CSV, 6 channels, 50 Hz), in a stable order."""
    return [shared_data / "watch" / entry["file"] for entry in watch_manifest]


@pytest.fixture(scope="session")
def wav_file(shared_data: Path) -> Path:
    return shared_data / "audio" / "deermouse-go.wav"


@pytest.fixture
def proxy(server: RunningServer) -> Iterator[FaultProxy]:
    """The server behind a path prefix (``/api/``) that can inject faults."""
    with fault_proxy(server.url) as proxy:
        yield proxy
