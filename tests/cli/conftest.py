"""Fixtures for the CLI tests: the ``capturehub`` command run in-process (click's CliRunner)
against the real test servers, with a private config folder, and the watch dataset uploaded
with its manifest once per database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from capturehub import Client
from capturehub.cli.main import cli
from tests.conftest import RunningServer

# Variables that would make a test depend on the machine it runs on.
CLEARED = ("CAPTUREHUB_SERVER", "CAPTUREHUB_API_KEY", "CAPTUREHUB_USERNAME", "CAPTUREHUB_PASSWORD")


def run_cli(args: list[str], *, env: dict[str, str | None], input: str | None = None) -> Result:
    """Run ``capturehub ARGS`` in this process; ``env`` replaces the CAPTUREHUB_* variables."""
    environment: dict[str, str | None] = dict.fromkeys(CLEARED)
    environment.update(env)
    return CliRunner().invoke(cli, args, env=environment, input=input, catch_exceptions=True)


Run = Callable[..., Result]


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    """An empty config folder (XDG_CONFIG_HOME) for the saved logins."""
    folder = tmp_path / "config"
    folder.mkdir()
    return folder


@pytest.fixture
def run(server: RunningServer, config_home: Path) -> Run:
    """``run("ls", "--project", p)``: the command as the server's main account (API key)."""

    def invoke(*args: str, input: str | None = None, **env: str | None) -> Result:
        base: dict[str, str | None] = {
            "XDG_CONFIG_HOME": str(config_home),
            "CAPTUREHUB_SERVER": server.url,
            "CAPTUREHUB_API_KEY": server.api_key,
        }
        base.update(env)
        return run_cli(list(args), env=base, input=input)

    return invoke


@pytest.fixture
def sdk(server: RunningServer) -> Iterator[Client]:
    """An SDK client of the main account, to check what the commands did."""
    with Client(server=server.url, api_key=server.api_key) as client:
        yield client


@dataclass
class WatchProject:
    """The watch dataset uploaded with its manifest by ``capturehub upload`` (once per
    database): the project's name, the command's result and the manifest's entries."""

    name: str
    result: Result
    manifest: list[dict[str, Any]]

    def names(self, **metadata: str) -> set[str]:
        """The file names of the manifest's entries with these metadata values."""
        return {
            Path(entry["file"]).name
            for entry in self.manifest
            if all(str(entry["metadata"].get(k)) == v for k, v in metadata.items())
        }


@pytest.fixture(scope="session")
def watch_manifest(shared_data: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        (shared_data / "watch" / "manifest.json").read_text()
    )
    return entries


@pytest.fixture(scope="session")
def watch_project(
    server: RunningServer,
    shared_data: Path,
    watch_manifest: list[dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> WatchProject:
    """``capturehub upload <watch> --manifest <watch>/manifest.json`` into a fresh project."""
    name = f"watch-{uuid.uuid4().hex[:8]}"
    watch = shared_data / "watch"
    result = run_cli(
        ["upload", str(watch), "--project", name, "--manifest", str(watch / "manifest.json")],
        env={
            "XDG_CONFIG_HOME": str(tmp_path_factory.mktemp("config")),
            "CAPTUREHUB_SERVER": server.url,
            "CAPTUREHUB_API_KEY": server.api_key,
        },
    )
    return WatchProject(name=name, result=result, manifest=watch_manifest)


def one_line_error(result: Result) -> str:
    """The error a failed command printed, checked to be one line without a traceback."""
    assert result.exit_code not in (0, None), result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines
    assert "Traceback" not in result.output
    return lines[0]
