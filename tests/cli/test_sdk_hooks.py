"""The SDK hooks the CLI is built on: a client from saved tokens, and transfer progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from capturehub import AuthenticationError, Client
from capturehub.client import Tokens
from tests.conftest import RunningServer


def test_a_client_from_saved_tokens_renews_them_and_says_so(server: RunningServer) -> None:
    with Client(server=server.url, username=server.username, password=server.password) as first:
        saved = first.tokens
    assert saved is not None and saved.refresh_token
    server.expire_tokens()
    renewed: list[Tokens] = []
    with Client(
        server=server.url,
        token=saved.access_token,
        refresh_token=saved.refresh_token,
        on_tokens=renewed.append,
    ) as client:
        assert client.team_info()["name"] == "lab"  # 401, refreshed, sent again
        assert len(renewed) == 1 and client.tokens == renewed[0]
        assert renewed[0].refresh_token != saved.refresh_token

    # The spent refresh token cannot renew again, and there is no password to fall back on.
    server.expire_tokens()
    with (
        Client(
            server=server.url, token=saved.access_token, refresh_token=saved.refresh_token
        ) as stale,
        pytest.raises(AuthenticationError, match="log in again"),
    ):
        stale.team_info()


def test_progress_reports_every_byte_of_uploads_and_downloads(
    server: RunningServer, project_name: str, shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "daphnet" / "S06R02E0.csv"
    seen: list[tuple[Path, int]] = []
    with Client(
        server=server.url, api_key=server.api_key, progress=lambda p, n: seen.append((p, n))
    ) as client:
        client.project = project_name
        capture = client.project.captures.create_capture(source.name, source)
        uploaded = [n for path, n in seen if path == source]
        assert uploaded == sorted(uploaded) and uploaded[-1] == source.stat().st_size
        assert len(uploaded) > 1  # reported as it streams, not once at the end
        seen.clear()
        written = capture.download(tmp_path)
    assert {path.parent for path, _ in seen} == {tmp_path}
    assert seen[-1][1] == written.stat().st_size == source.stat().st_size
    assert client.tokens is None  # an API key has no tokens to save
