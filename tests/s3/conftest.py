"""capturehub servers that keep their files in S3 (a real SeaweedFS on loopback), on SQLite
and PostgreSQL. :func:`s3_server_env` gives the environment any test needs for that."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from capturehub.storage.s3 import S3BlobStore
from tests.conftest import BACKENDS, RunningServer, require_backend
from tests.s3server import SeaweedFS, require_loopback
from tests.servers import new_server


def s3_server_env(seaweedfs: SeaweedFS, bucket: str, prefix: str) -> dict[str, str]:
    """Settings (environment) of a capturehub process storing under s3://bucket/prefix."""
    require_loopback(seaweedfs.endpoint_url)
    return {**seaweedfs.env(), "CAPTUREHUB_STORAGE_URL": f"s3://{bucket}/{prefix}"}


@pytest.fixture(scope="module")
def s3_bucket(seaweedfs: SeaweedFS) -> str:
    return seaweedfs.new_bucket()


@pytest.fixture(scope="module", params=BACKENDS)
def s3_server(
    request: pytest.FixtureRequest,
    seaweedfs: SeaweedFS,
    s3_bucket: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    backend: str = request.param
    require_backend(backend)
    process = new_server(backend, tmp_path_factory.mktemp(f"s3-server-{backend}"))
    process.env.update(s3_server_env(seaweedfs, s3_bucket, f"lab-{uuid.uuid4().hex[:8]}"))
    try:
        main = process.create_account(f"alice-{uuid.uuid4().hex[:6]}", "lab")
        other = process.create_account(f"mallory-{uuid.uuid4().hex[:6]}", "rivals")
        process.start()
        yield RunningServer(process=process, main=main, other=other)
    finally:
        process.close()


def store_of(server: RunningServer, seaweedfs: SeaweedFS, tmp_path: Path) -> S3BlobStore:
    """The server's bucket and prefix, seen from the test (for checks)."""
    bucket, prefix = server.process.env["CAPTUREHUB_STORAGE_URL"][5:].split("/", 1)
    return S3BlobStore(bucket, prefix, client=seaweedfs.client(), scratch_dir=tmp_path)
