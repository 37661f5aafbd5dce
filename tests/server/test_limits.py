"""Limits: upload size (413 while streaming) and login attempts (429)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import UPLOAD_LIMIT
from tests.servers import Account, ServerProcess, stranger_address

LIMIT = UPLOAD_LIMIT


@pytest.fixture
def small_server(limited_server: ServerProcess) -> tuple[ServerProcess, Account]:
    """The limited server and a fresh account on it."""
    return limited_server, limited_server.create_account(
        f"limited-{uuid.uuid4().hex[:8]}", f"lab-{uuid.uuid4().hex[:8]}"
    )


def test_upload_over_the_limit_is_413_and_leaves_nothing(
    small_server: tuple[ServerProcess, Account], tmp_path: Path
) -> None:
    process, account = small_server
    # The server is shared with other tests (in any order): look only at what this test adds.
    temp_dir = process.data_dir / "blobs" / ".tmp"
    temp_before = set(temp_dir.iterdir()) if temp_dir.exists() else set()
    with process.http(account, timeout=60) as api:
        project = api.post("project/", json={"name": "limits"}).json()
        base = f"project/{project['uuid']}/capture/"

        def chunks() -> Iterator[bytes]:
            # A streamed body without Content-Length: the limit must hold while streaming.
            boundary = b"XyZ"
            yield (
                b"--"
                + boundary
                + b'\r\nContent-Disposition: form-data; name="name"\r\n\r\nbig.csv\r\n'
            )
            yield (
                b"--"
                + boundary
                + b'\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
            )
            yield b"a,b\n"
            for _ in range(4 * LIMIT // 65536):
                yield b"1,2\n" * 16384
            yield b"\r\n--XyZ--\r\n"

        response = api.post(
            base, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=XyZ"}
        )
        assert response.status_code == 413
        assert str(LIMIT) in response.json()["detail"]
        assert "CAPTUREHUB_MAX_UPLOAD_BYTES" in response.json()["detail"]
        small = tmp_path / "small.csv"
        small.write_text("a,b\n1,2\n")
        with open(small, "rb") as handle:
            ok = api.post(base, data={"name": "small.csv"}, files={"file": ("small.csv", handle)})
        assert ok.status_code == 201
        assert [c["name"] for c in api.get(base).json()] == ["small.csv"]
    this_project = process.data_dir / "blobs" / "captures" / project["uuid"]
    stored = [p for p in this_project.rglob("*") if p.is_file()]
    # The small capture (original, columnar copy, plot pyramid), nothing of the big one.
    assert len(stored) <= 3
    assert set(temp_dir.iterdir()) <= temp_before


def test_repeated_failed_logins_are_rate_limited(
    small_server: tuple[ServerProcess, Account],
) -> None:
    process, account = small_server
    address = stranger_address()
    statuses = []
    for _ in range(12):
        response = httpx.post(
            process.url + "oauth/token/",
            data={"grant_type": "password", "username": account.username, "password": "wrong"},
            headers=address,
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429, 429]
    limited = httpx.post(
        process.url + "oauth/token/",
        data={"grant_type": "password", "username": account.username, "password": account.password},
        headers=address,
    )
    assert limited.status_code == 429
    # The first wait is 2 seconds (then 4, 8, ... up to 15 minutes).
    assert "from your address; try again in" in limited.json()["detail"]
    assert limited.headers["retry-after"] in ("1", "2")
