"""Request bodies (capturehub/server/bodies.py): authentication comes before the body is read,
each route has a size limit (a larger one on bulk routes), and a JSON route takes only JSON.

The "before the body is read" cases send the request's headers only, announcing a large
body, and expect the answer without sending a byte of it: a server that read the body first
would wait for it (and the socket's timeout would fail the test).
"""

from __future__ import annotations

import socket
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx

from capturehub.server.settings import Settings
from tests.conftest import RunningServer

LIMIT = Settings.model_fields["max_request_body_bytes"].default
BULK_LIMIT = Settings.model_fields["max_bulk_request_body_bytes"].default
HUGE = 60 * 1024 * 1024
CSV = b"AccelX,AccelY\n1,2\n3,4\n"


def headers_only(
    server: RunningServer, method: str, path: str, headers: dict[str, str]
) -> tuple[int, str]:
    """Send a request's head and no body; the status and the text of the answer."""
    address = urlsplit(server.url)
    lines = [f"{method} /{path} HTTP/1.1", f"Host: {address.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((address.hostname, address.port), timeout=20) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body.decode(errors="replace")


def test_no_token_is_a_401_before_the_body_is_read(
    server: RunningServer, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    announced = {"Content-Type": "application/json", "Content-Length": str(HUGE)}
    for path in ("project/", f"project/{p}/label/", f"project/{p}/label-relationship/"):
        status, text = headers_only(server, "POST", path, announced)
        assert status == 401, (path, text)
        assert "log in" in text
        # An invalid token is refused as early.
        status, text = headers_only(
            server, "POST", path, {**announced, "Authorization": "Bearer not-a-token"}
        )
        assert status == 401, (path, text)
        assert "invalid or expired" in text


def test_a_body_over_the_limit_is_a_413_that_says_so(
    server: RunningServer, api: httpx.Client
) -> None:
    token = api.headers["Authorization"]
    # Announced: refused before it is sent.
    status, text = headers_only(
        server,
        "POST",
        "project/",
        {"Authorization": token, "Content-Type": "application/json", "Content-Length": str(HUGE)},
    )
    assert status == 413, text
    assert "1 MiB" in text and "smaller" not in text
    assert "CAPTUREHUB_MAX_REQUEST_BODY_BYTES" in text

    # Streamed without a length (chunked): refused once it passes the limit.
    def chunks() -> Any:
        yield b'{"name": "'
        for _ in range(LIMIT // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    streamed = api.post("project/", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text[:300]
    body = streamed.json()
    assert body["status"] == 413
    assert "limit of 1 MiB" in body["detail"]
    assert "several requests" not in body["detail"]
    # Just under the limit is read (and judged on its content).
    name = "n" * (LIMIT - 100)
    under = api.post("project/", json={"name": name})
    assert under.status_code != 413, under.text[:300]


def test_a_bulk_route_takes_a_bigger_body(api: httpx.Client, project: dict[str, Any]) -> None:
    p = project["uuid"]
    uploaded = api.post(
        f"project/{p}/capture/",
        data={"name": "one.csv", "asynchronous": "False"},
        files={"file": ("one.csv", CSV)},
    )
    assert uploaded.status_code == 201, uploaded.text
    known = uploaded.json()["uuid"]
    many = [known] * (3 * LIMIT // 40)  # about 3 MiB of JSON
    links = api.post(f"project/{p}/capture-files/", json={"capture_uuids": many})
    assert links.status_code == 200, links.text[:500]
    assert len(links.json()) == len(many)
    # The same size on a route that is not a bulk one is refused.
    refused = api.post("project/", json={"name": "x", "description": "d" * 3 * LIMIT})
    assert refused.status_code == 413, refused.text[:300]
    # And a bulk route has its limit too, named in the message with what to do.
    too_many = api.post(
        f"project/{p}/label-relationship/",
        content=b"[" + b"{}," * (BULK_LIMIT // 3) + b"{}]",
        headers={"Content-Type": "application/json"},
    )
    assert too_many.status_code == 413, too_many.text[:300]
    detail = too_many.json()["detail"]
    assert f"{BULK_LIMIT // 1024 // 1024} MiB" in detail
    assert "several smaller requests" in detail


def test_a_json_route_refuses_another_content_type_with_a_415(api: httpx.Client) -> None:
    body = b'{"name": "typed"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        refused = api.post("project/", content=body, headers={"Content-Type": content_type})
        assert refused.status_code == 415, (content_type, refused.text)
        detail = refused.json()["detail"]
        assert "application/json" in detail and content_type in detail
    # JSON by another name is JSON.
    name = f"typed {uuid.uuid4().hex[:6]}"
    accepted = api.post(
        "project/",
        content=f'{{"name": "{name}"}}'.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert accepted.status_code == 201, accepted.text


def test_a_json_route_refuses_a_body_without_content_type(api: httpx.Client) -> None:
    refused = api.post("project/", content=b'{"name": "untyped"}')
    assert "content-type" not in refused.request.headers
    assert refused.status_code == 415, refused.text
    assert refused.json() == {
        "status": 415,
        "detail": "This route takes a JSON body, sent as Content-Type: application/json; the "
        "request's content type is missing.",
    }


def test_the_token_route_limits_its_form(server: RunningServer) -> None:
    refused = httpx.post(
        server.url + "oauth/token/",
        data={"grant_type": "password", "username": "u", "password": "p" * (LIMIT + 1)},
    )
    assert refused.status_code == 413, refused.text[:300]
    assert "1 MiB" in refused.json()["detail"]
