"""How the server holds up under many clients, slow clients and an exhausted database pool:
real sockets against a real ``capturehub serve`` process."""

from __future__ import annotations

import sqlite3
import threading
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
            answer = httpx.get(process.url + "project/", headers=headers, timeout=60)
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
    assert [item["name"] for item in listed.json()] == ["waits"]
