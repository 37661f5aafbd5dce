"""Fixtures shared by the server tests beyond those of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
