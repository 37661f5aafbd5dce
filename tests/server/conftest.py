"""Fixtures shared by the server tests beyond those of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS, require_backend
from tests.servers import ServerProcess, new_server

# The upload limit of `limited_server`: small, so that a test can go over it quickly.
UPLOAD_LIMIT = 1024 * 1024


@pytest.fixture(scope="session")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A SQLite server with a 1 MiB upload limit; each test makes its own account (the login
    rate limit counts per user name)."""
    process = new_server("sqlite", tmp_path_factory.mktemp("limits"))
    try:
        process.start(CAPTUREHUB_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT))
        yield process
    finally:
        process.close()


@pytest.fixture(scope="module", params=BACKENDS)
def twin_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes on one database (as behind a load balancer)."""
    backend: str = request.param
    require_backend(backend)
    first = new_server(backend, tmp_path_factory.mktemp(f"twin-{backend}"))
    shared = first.database_url or f"sqlite:///{(first.data_dir / 'capturehub.db').resolve()}"
    second = ServerProcess(
        backend=backend, data_dir=tmp_path_factory.mktemp(f"twin-{backend}"), database_url=shared
    )
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        second.stop()
        first.close()
