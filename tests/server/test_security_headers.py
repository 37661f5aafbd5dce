"""Every answer carries the browser-safety headers (capturehub/server/security_headers.py), and
the API docs are served entirely by the server itself (capturehub/server/docs.py)."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import httpx

from tests.conftest import RunningServer

EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
CSV = b"AccelX,AccelY\n1,2\n3,4\n"


def assert_safe(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    # No script-src: default-src 'self' forbids inline scripts (the docs load theirs as files).
    assert "script-src" not in policy


def test_every_kind_of_answer_carries_the_headers(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    anonymous = httpx.Client(base_url=server.url, timeout=60)
    uploaded = api.post(
        f"project/{p}/capture/",
        data={"name": "h.csv", "asynchronous": "False"},
        files={"file": ("h.csv", CSV)},
    )
    assert uploaded.status_code == 201, uploaded.text
    capture = uploaded.json()["uuid"]
    answers = {
        "json": api.get(f"project/{p}/"),
        "public json": anonymous.get("version/"),
        "created": uploaded,
        "file download": api.get(f"project/{p}/capture/{capture}/file/"),
        "ranged download": api.get(
            f"project/{p}/capture/{capture}/file/", headers={"Range": "bytes=0-3"}
        ),
        "unauthorized": anonymous.get("project/"),
        "not found": api.get(f"project/{p}/capture/not-a-capture/"),
        "no such route": anonymous.get("no/such/route/"),
        "method not allowed": anonymous.delete("version/"),
        "nul in url": anonymous.get("version/%00/"),
        "validation": api.post("project/", json={"name": 5}),
        "unsupported type": api.post("project/", content=b"{}"),
        "openapi": anonymous.get("openapi.json"),
        "docs": anonymous.get("docs"),
        "redoc": anonymous.get("redoc"),
        "docs asset": anonymous.get("docs/assets/swagger-ui.css"),
    }
    expected_status = {
        "json": 200,
        "public json": 200,
        "created": 201,
        "file download": 200,
        "ranged download": 206,
        "unauthorized": 401,
        "not found": 404,
        "no such route": 404,
        "method not allowed": 405,
        "nul in url": 400,
        "validation": 400,
        "unsupported type": 415,
        "openapi": 200,
        "docs": 200,
        "redoc": 200,
        "docs asset": 200,
    }
    for kind, response in answers.items():
        assert response.status_code == expected_status[kind], (kind, response.text[:300])
        assert_safe(response)
    assert answers["file download"].content == CSV
    anonymous.close()


ASSET_URL = re.compile(r'(?:src|href)="([^"]+)"')
OFFLINE_FILES = resources.files("fastapi_offline") / "static"


def test_the_docs_pages_load_only_local_assets(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        for page, bundle in (("docs", "swagger-ui-bundle.js"), ("redoc", "redoc.standalone.js")):
            html = anonymous.get(page)
            assert html.status_code == 200
            assert html.headers["content-type"].startswith("text/html")
            urls = ASSET_URL.findall(html.text)
            assert f"docs/assets/{bundle}" in urls, urls
            assert "<script>" not in html.text  # no inline script: the CSP forbids them
            for url in urls:
                assert not re.match(r"^([a-z]+:)?//", url), f"{page} loads {url} from elsewhere"
                assert not url.startswith("/"), f"{page}: {url} ignores the server's prefix"
                asset = anonymous.get(url)
                assert asset.status_code == 200, (url, asset.text[:200])
                name = url.rsplit("/", 1)[1]
                if (OFFLINE_FILES / name).is_file():
                    assert asset.content == (OFFLINE_FILES / name).read_bytes(), url
                kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
                suffix = name[name.rindex(".") :]
                assert asset.headers["content-type"].startswith(kinds[suffix]), url
        start = anonymous.get("docs/assets/start-swagger-ui.js")
        assert b"SwaggerUIBundle(" in start.content
        assert anonymous.get("docs/assets/../openapi.json").status_code in (400, 404)
        missing = anonymous.get("docs/assets/nothing.js")
        assert missing.status_code == 404
        assert missing.json()["status"] == 404
        # The page names the document it shows, which is served.
        assert 'data-openapi="openapi.json"' in anonymous.get("docs").text
        assert anonymous.get("openapi.json").json()["info"]["title"] == "capturehub"
