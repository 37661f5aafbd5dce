"""A server reached under a path prefix (e.g. behind a proxy at /api/) answers both ways."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.servers import new_server


def test_prefix_and_root_both_answer(tmp_path: Path) -> None:
    process = new_server("sqlite", tmp_path / "server")
    try:
        account = process.create_account("prefixed", "lab")
        process.start(CAPTUREHUB_ROOT_PATH="/api")
        for base in (process.url + "api/", process.url):
            token = httpx.post(
                base + "oauth/token",
                data={
                    "grant_type": "password",
                    "username": account.username,
                    "password": account.password,
                },
            )
            assert token.status_code == 200, token.text
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            assert httpx.get(base + "version").json()["name"] == "capturehub"
            assert httpx.get(base + "project", headers=headers).status_code == 200
            assert httpx.get(base + "platforms/v2", headers=headers).json() == []
            # The docs pages' relative asset URLs resolve under the prefix too.
            page = httpx.get(base + "docs")
            assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert "docs/assets/swagger-ui-bundle.js" in assets
            for url in assets:
                assert httpx.get(httpx.URL(base + "docs").join(url)).status_code == 200, url
    finally:
        process.close()
