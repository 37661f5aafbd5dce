"""How the server holds up under many clients, slow clients and an exhausted database pool:
real sockets against a real ``capturehub serve`` process."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.servers import Account, ServerProcess, new_server

BURST_CLIENTS = 100
BURST_CAPTURES = 40


def test_a_burst_of_100_clients_all_get_their_answers(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    """100 clients, each on its own connection, log in and read the capture list, a page and
    one capture of a 40-capture project at the same moment, on the default settings. Each
    answer is a 200 with the right content: none waits for a database connection until it
    times out (the logins' password checks used to hold connections and, on SQLite, the
    write lock, so the burst ended in 503s and 500s after 30 s)."""
    base = f"project/{project['uuid']}/capture/"
    uuids = []
    for index in range(BURST_CAPTURES):
        response = api.post(
            base,
            data={"name": f"burst-{index:02d}.csv"},
            files={"file": (f"burst-{index:02d}.csv", f"a,b\n{index},2\n3,4\n".encode())},
        )
        assert response.status_code == 201, response.text
        uuids.append(response.json()["uuid"])
    barrier = threading.Barrier(BURST_CLIENTS, timeout=120)

    def client(index: int) -> list[str]:
        problems: list[str] = []
        with httpx.Client(base_url=server.url, timeout=300) as http:
            barrier.wait()
            login = http.post(
                "oauth/token/",
                data={
                    "grant_type": "password",
                    "username": server.username,
                    "password": server.password,
                },
            )
            if login.status_code != 200:
                return [f"login: {login.status_code} {login.text[:200]}"]
            http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            listed = http.get(base)
            if listed.status_code != 200 or len(listed.json()) != BURST_CAPTURES:
                problems.append(f"list: {listed.status_code} {listed.text[:200]}")
            page = http.get(base, params={"limit": 10, "offset": index % 30})
            if page.status_code != 200 or page.json()["count"] != BURST_CAPTURES:
                problems.append(f"page: {page.status_code} {page.text[:200]}")
            wanted = uuids[index % BURST_CAPTURES]
            one = http.get(f"{base}{wanted}/")
            if one.status_code != 200 or one.json()["uuid"] != wanted:
                problems.append(f"capture: {one.status_code} {one.text[:200]}")
        return problems

    with ThreadPoolExecutor(BURST_CLIENTS) as pool:
        problems = [
            problem for found in pool.map(client, range(BURST_CLIENTS)) for problem in found
        ]
    assert problems == [], f"{len(problems)} failed answers, e.g. {problems[:5]}"


@pytest.fixture
def tiny_pool_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Account]]:
    """A SQLite server with one database connection that a request waits 1 s for."""
    process = new_server("sqlite", tmp_path / "tiny-pool")
    try:
        account = process.create_account(f"pool-{uuid.uuid4().hex[:6]}", "pool")
        process.start(
            CAPTUREHUB_DATABASE_POOL_SIZE="1",
            CAPTUREHUB_DATABASE_POOL_TIMEOUT_SECONDS="1",
            CAPTUREHUB_WORKERS="0",
            CAPTUREHUB_REQUEUE_INTERVAL_SECONDS="3600",
        )
        yield process, account
    finally:
        process.close()


def test_no_free_database_connection_is_a_503_with_retry_after(
    tiny_pool_server: tuple[ServerProcess, Account],
) -> None:
    """While the only connection is held (a write waiting for SQLite's write lock, which this
    test holds), another request waits for a connection and is answered 503 with
    Retry-After, never a 500; once the lock is released everything answers again."""
    process, account = tiny_pool_server
    token = process.token(account)
    headers = {"Authorization": f"Bearer {token}"}
    project = httpx.post(process.url + "project/", json={"name": "read"}, headers=headers).json()
    captures = f"{process.url}project/{project['uuid']}/capture/"  # a read-only route
    lock = sqlite3.connect(process.data_dir / "capturehub.db", isolation_level=None)
    created: list[httpx.Response] = []
    try:
        lock.execute("BEGIN IMMEDIATE")  # the write lock: the server's write must wait
        writer = threading.Thread(
            target=lambda: created.append(
                httpx.post(
                    process.url + "project/", json={"name": "waits"}, headers=headers, timeout=60
                )
            )
        )
        writer.start()
        busy = None
        for _ in range(30):  # until the writer holds the connection
            answer = httpx.get(captures, headers=headers, timeout=60)
            if answer.status_code != 200:
                busy = answer
                break
        assert busy is not None, "no request ever waited for the connection"
        assert busy.status_code == 503, busy.text
        assert busy.headers["Retry-After"] == "5"
        assert "busy" in busy.json()["detail"]
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    writer.join(timeout=60)
    assert created and created[0].status_code == 201, created
    listed = httpx.get(process.url + "project/", headers=headers, timeout=60)
    assert listed.status_code == 200
    assert sorted(item["name"] for item in listed.json()) == ["read", "waits"]


# Slow clients: the header and body time limits shortened to a second.
SHORT_TIMEOUT = "1"
# How long a test waits for the server to close a stalled connection: far more than the
# limits above, so that a loaded machine cannot make the test fail.
CLOSE_WAIT = 30.0


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = new_server("sqlite", tmp_path_factory.mktemp("impatient"))
    try:
        process.start(
            CAPTUREHUB_HEADER_TIMEOUT_SECONDS=SHORT_TIMEOUT,
            CAPTUREHUB_BODY_TIMEOUT_SECONDS=SHORT_TIMEOUT,
        )
        yield process
    finally:
        process.close()


def _connect(process: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", process.port), timeout=CLOSE_WAIT)


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        raise AssertionError(
            f"the server kept the stalled connection open for {CLOSE_WAIT} s; it sent "
            f"{received[:200]!r}"
        ) from None
    return received


def _status_and_body(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else {}


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connected, and nothing
        b"GET /vers",  # half a request line
        b"GET /version/ HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slo",  # half the headers
    ],
    ids=["nothing", "half-a-request-line", "half-the-headers"],
)
def test_stalled_request_headers_close_the_connection(
    impatient_server: ServerProcess, sent: bytes
) -> None:
    with _connect(impatient_server) as sock:
        sock.sendall(sent)
        answer = _read_until_closed(sock)
    status, body = _status_and_body(answer)
    assert status == 408
    assert "headers did not arrive in time" in body["detail"]


def test_headers_of_a_second_request_on_a_kept_alive_connection_are_timed_too(
    impatient_server: ServerProcess,
) -> None:
    with _connect(impatient_server) as sock:
        sock.sendall(b"GET /version/ HTTP/1.1\r\nHost: localhost\r\n\r\nGET /version/ HTTP/1.1\r\n")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"HTTP/1.1 408" in answer


def _upload_head(process: ServerProcess, account: Account, project: str, length: int) -> bytes:
    token = process.token(account)
    return (
        f"POST /project/{project}/capture/ HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: multipart/form-data; boundary=XyZ\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


UPLOAD_PARTS = [
    b'--XyZ\r\nContent-Disposition: form-data; name="name"\r\n\r\nslow.csv\r\n',
    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="slow.csv"\r\n\r\n',
    b"a,b\n1,2\n",
    b"3,4\n5,6\n",
    b"\r\n--XyZ--\r\n",
]


def test_a_stalled_upload_is_408_closed_and_leaves_nothing(
    impatient_server: ServerProcess,
) -> None:
    account = impatient_server.create_account(
        f"slow-{uuid.uuid4().hex[:6]}", f"slow-{uuid.uuid4().hex[:6]}"
    )
    with impatient_server.http(account) as api:
        project = api.post("project/", json={"name": "stalled"}).json()["uuid"]
        body = b"".join(UPLOAD_PARTS)
        with _connect(impatient_server) as sock:
            sock.sendall(_upload_head(impatient_server, account, project, len(body)))
            sock.sendall(body[: len(body) // 2])  # and then nothing
            answer = _read_until_closed(sock)
        status, detail = _status_and_body(answer)
        assert status == 408
        assert "No part of the request body arrived" in detail["detail"]
        assert b"connection: close" in answer.lower()
        assert api.get(f"project/{project}/capture/").json() == []


def test_a_stalled_json_body_is_408_and_closed(impatient_server: ServerProcess) -> None:
    account = impatient_server.create_account(
        f"slow-{uuid.uuid4().hex[:6]}", f"slow-{uuid.uuid4().hex[:6]}"
    )
    token = impatient_server.token(account)
    with _connect(impatient_server) as sock:
        sock.sendall(
            b"POST /project/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: 40\r\n\r\n".encode()
            + b'{"name": "sta'
        )
        answer = _read_until_closed(sock)
    status, detail = _status_and_body(answer)
    assert status == 408
    assert "No part of the request body arrived" in detail["detail"]
    with impatient_server.http(account) as api:
        assert api.get("project/").json() == []


def test_a_slow_upload_that_keeps_moving_is_not_cut(impatient_server: ServerProcess) -> None:
    """The body limit is on a stall, not on the whole upload: pieces that come every half
    limit make an upload that takes several limits, and it is stored."""
    account = impatient_server.create_account(
        f"slow-{uuid.uuid4().hex[:6]}", f"slow-{uuid.uuid4().hex[:6]}"
    )
    with impatient_server.http(account) as api:
        project = api.post("project/", json={"name": "moving"}).json()["uuid"]
        body = b"".join(UPLOAD_PARTS)
        with _connect(impatient_server) as sock:
            sock.sendall(_upload_head(impatient_server, account, project, len(body)))
            for part in UPLOAD_PARTS:
                sock.sendall(part)
                time.sleep(float(SHORT_TIMEOUT) / 2)
            sock.sendall(b"")
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
        listed = api.get(f"project/{project}/capture/").json()
        assert [capture["name"] for capture in listed] == ["slow.csv"]


def test_connections_beyond_limit_concurrency_are_answered_503(tmp_path: Path) -> None:
    process = new_server("sqlite", tmp_path / "limited")
    try:
        process.start(CAPTUREHUB_LIMIT_CONCURRENCY="4")
        held = [_connect(process) for _ in range(4)]
        try:
            refused = httpx.get(process.url + "version/", timeout=60)
        finally:
            for sock in held:
                sock.close()
        assert refused.status_code == 503
        answered = None
        for _ in range(50):  # until the server has seen the held connections close
            answered = httpx.get(process.url + "version/", timeout=60)
            if answered.status_code == 200:
                break
            time.sleep(0.1)
        assert answered is not None and answered.status_code == 200
    finally:
        process.close()
