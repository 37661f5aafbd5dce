"""When PostgreSQL refuses the server's connections, requests get a 503 that says to retry
(with Retry-After), not a 500; once it accepts them again, the same server answers as before.

The database is made to refuse for real: new connections are disallowed and the server's
pooled ones are terminated, so its ping on checkout fails and reconnecting is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import require_backend
from tests.servers import POSTGRES_ADMIN_URL, ServerProcess, new_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, httpx.Client]]:
    require_backend("postgresql")
    process = new_server("postgresql", tmp_path)
    try:
        account = process.create_account("patient", "lab")
        process.start()
        with process.http(account) as client:
            yield process, client
    finally:
        process.close()


def _allow_connections(database_url: str, allowed: bool) -> None:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute(
                # Waits (up to 5 s) until each backend is gone, not only signalled.
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


def test_a_database_that_refuses_connections_gives_503_then_recovers(
    server: tuple[ServerProcess, httpx.Client],
) -> None:
    process, api = server
    assert process.database_url is not None
    assert api.post("project/", json={"name": "before"}).status_code == 201
    _allow_connections(process.database_url, False)
    try:
        refused = api.get("project/")
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "5"
        assert "retry" in refused.json()["detail"]
    finally:
        _allow_connections(process.database_url, True)
    answered = api.get("project/")
    assert answered.status_code == 200, answered.text
    assert [project["name"] for project in answered.json()] == ["before"]


def test_a_connection_ended_by_the_database_between_requests_is_replaced_unseen(
    server: tuple[ServerProcess, httpx.Client],
) -> None:
    """The pool pings a connection only when it may be stale (server/db.py): one that the
    database ended a moment after its last use must still be noticed (its socket has the
    database's goodbye to read) and replaced, so the next request is answered, not a 503."""
    process, api = server
    assert process.database_url is not None
    created = api.post("project/", json={"name": "kept"})
    assert created.status_code == 201, created.text
    project = created.json()["uuid"]
    for _ in range(3):
        assert api.get(f"project/{project}/capture/").status_code == 200
        name = process.database_url.rsplit("/", 1)[1]
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 5000) FROM "
                "pg_stat_activity WHERE datname = %s) AS ended",
                (name,),
            ).fetchone()
        assert ended is not None and ended[0] >= 1
        for path in (f"project/{project}/capture/", "project/"):
            answered = api.get(path, params={"limit": 10})
            assert answered.status_code == 200, answered.text
