"""Fixtures: real servers (SQLite and PostgreSQL), accounts, projects, the shared data.

Server tests are parametrised over the two databases. PostgreSQL tests skip with the reason
when no server answers, except where CAPTUREHUB_REQUIRE_SERVICES=1 (set by .ci/run), where a
missing PostgreSQL is a failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.s3server import SeaweedFS, seaweedfs_missing, start_seaweedfs
from tests.servers import (
    REQUIRE_SERVICES,
    Account,
    ServerProcess,
    new_server,
    postgres_available,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "README.md").exists():
        pytest.fail(
            f"The shared recordings are expected at {SHARED_DATA} (a folder `shared/data` "
            "beside the repository checkout)."
        )
    return SHARED_DATA


def require_backend(backend: str) -> None:
    if backend == "postgresql":
        reason = postgres_available()
        if reason:
            if REQUIRE_SERVICES:
                pytest.fail(f"{reason} (CAPTUREHUB_REQUIRE_SERVICES=1)")
            pytest.skip(reason)


@dataclass
class RunningServer:
    """What tests need of a running server: its URL and two teams' accounts."""

    process: ServerProcess
    main: Account
    other: Account

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def backend(self) -> str:
        return self.process.backend

    @property
    def data_dir(self) -> Path:
        return self.process.data_dir

    @property
    def username(self) -> str:
        return self.main.username

    @property
    def password(self) -> str:
        return self.main.password

    @property
    def api_key(self) -> str:
        return self.main.api_key

    @property
    def team(self) -> str:
        return self.main.team

    def expire_tokens(self, username: str | None = None) -> None:
        self.process.expire_tokens(username or self.main.username)

    def token(self, account: Account | None = None) -> str:
        return self.process.token(account or self.main)

    def http(self, account: Account | None = None) -> httpx.Client:
        return self.process.http(account or self.main)


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    backend: str = request.param
    require_backend(backend)
    process = new_server(backend, tmp_path_factory.mktemp(f"server-{backend}"))
    try:
        main = process.create_account(f"alice-{uuid.uuid4().hex[:6]}", "lab")
        other = process.create_account(f"mallory-{uuid.uuid4().hex[:6]}", "rivals")
        process.start()
        yield RunningServer(process=process, main=main, other=other)
    finally:
        process.close()


@pytest.fixture
def project_name() -> str:
    return f"project-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    """An HTTP client logged in as the main account."""
    with server.http() as client:
        yield client


@pytest.fixture
def project(api: httpx.Client, project_name: str) -> dict[str, Any]:
    """A fresh project of the main account's team (its JSON)."""
    response = api.post("project/", json={"name": project_name})
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


def require_seaweedfs() -> None:
    reason = seaweedfs_missing()
    if reason:
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason} (CAPTUREHUB_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One SeaweedFS (S3) for the test run; tests take a bucket of their own
    (``seaweedfs.new_bucket()``) or a prefix of their own in it."""
    require_seaweedfs()
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


# The slowest test files, started first: with the suite in two processes (scripts/test), a
# file that takes minutes and is handed out last keeps one process busy after the other has
# finished. The benchmarks' smoke run takes about 3 minutes.
SLOWEST_FIRST = ("test_benchmarks_smoke.py",)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in SLOWEST_FIRST)  # stable: False first
