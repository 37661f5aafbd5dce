"""Client: logging in, token renewal, URLs, projects, DataFrames, retries and errors."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from capturehub import (
    AuthenticationError,
    CapturehubError,
    Client,
    ConflictError,
    Project,
    RequestTimeoutError,
    ServerError,
    ServerUnreachableError,
)
from capturehub._transport import RetryPolicy, normalize_base_url
from tests.conftest import RunningServer
from tests.sdk.proxy import FaultProxy
from tests.servers import free_port


def test_password_login_selects_and_creates_project(
    server: RunningServer, project_name: str
) -> None:
    with Client(server=server.url, username=server.username, password=server.password) as client:
        assert client.projects.get_project_by_name(project_name) is None
        client.project = project_name
        project = client.project
        assert isinstance(project, Project)
        assert project.name == project_name
        assert len(project.uuid) == 36
        # Selecting it again finds the same project rather than creating another.
        client.project = project_name
        assert client.project.uuid == project.uuid
        assert client.team_info()["name"] == server.team


def test_project_kwarg_and_repr(server: RunningServer, project_name: str) -> None:
    with Client(server.url, server.username, server.password, project=project_name) as client:
        assert client.project.name == project_name
        assert project_name in repr(client)
        assert repr(client.project) == (
            f"<Project name={project_name!r} uuid={client.project.uuid!r}>"
        )


def test_api_key_login(server: RunningServer, project_name: str) -> None:
    with Client(server=server.url, api_key=server.api_key) as client:
        client.project = project_name
        assert client.team_info()["name"] == server.team
        assert client.list_captures().empty


def test_environment_credentials(
    server: RunningServer, project_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPTUREHUB_SERVER", server.url)
    monkeypatch.setenv("CAPTUREHUB_API_KEY", server.api_key)
    with Client() as client:
        assert client.server == server.url
        assert client.team_info()["name"] == server.team


def test_wrong_password_is_authentication_error(server: RunningServer) -> None:
    with pytest.raises(AuthenticationError) as caught:
        Client(server=server.url, username=server.username, password="wrong")
    assert server.username in caught.value.detail
    assert caught.value.status_code == 400  # the OAuth answer to a bad password (wire-api §2)


def test_wrong_api_key_is_authentication_error(server: RunningServer) -> None:
    with pytest.raises(AuthenticationError) as caught:
        Client(server=server.url, api_key="not-a-key")
    assert caught.value.status_code == 401
    assert "API key" in str(caught.value)


def test_no_credentials(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CAPTUREHUB_API_KEY", "CAPTUREHUB_USERNAME", "CAPTUREHUB_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AuthenticationError, match="no credentials"):
        Client(server=server.url)


def test_expired_token_is_refreshed(client: Client, server: RunningServer) -> None:
    tokens = client.connection.tokens
    before = tokens.generation
    server.expire_tokens()
    frame = client.list_captures()  # answered 401 once, refreshed, retried
    assert frame.empty
    assert tokens.generation == before + 1


def test_expired_token_and_refused_refresh_log_in_again(
    client: Client, server: RunningServer
) -> None:
    tokens = client.connection.tokens
    tokens._refresh_token = "revoked-refresh-token"  # as if rotated away by another client
    server.expire_tokens()
    assert client.project.captures.get_captures() == []
    assert tokens._refresh_token != "revoked-refresh-token"  # a fresh password login


def test_concurrent_401s_renew_once(
    client: Client, server: RunningServer, watch_files: list[Path]
) -> None:
    tokens = client.connection.tokens
    before = tokens.generation
    server.expire_tokens()
    client.project.captures.upload_many(watch_files[:6], workers=6)
    assert tokens.generation == before + 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:8000", "http://h:8000/"),
        ("http://h:8000/", "http://h:8000/"),
        ("h:8000", "http://h:8000/"),
        ("https://h/api", "https://h/api/"),
        ("https://h/api/?x=1", "https://h/api/"),
    ],
)
def test_base_url_normalization(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


def test_invalid_server_url() -> None:
    with pytest.raises(ValueError, match="invalid server URL"):
        Client(server="ftp://h/", api_key="k")


@pytest.mark.parametrize("slash", ["", "/"])
def test_works_with_and_without_trailing_slash(server: RunningServer, slash: str) -> None:
    with Client(server=server.url.rstrip("/") + slash, api_key=server.api_key) as client:
        assert client.server == server.url
        assert isinstance(client.list_projects(), pd.DataFrame)


def test_path_prefix(
    proxy: FaultProxy, server: RunningServer, project_name: str, watch_files: list[Path]
) -> None:
    url = proxy.url.rstrip("/")  # http://127.0.0.1:PORT/api
    with Client(server=url, username=server.username, password=server.password) as client:
        client.project = project_name
        capture = client.project.captures.create_capture("via prefix", watch_files[0])
        assert capture.await_ready(sleep=0.1)
    paths = [path for _, path in proxy.requests]
    assert paths and all(path.startswith("/api/") for path in paths)


def test_list_projects(client: Client, project_name: str) -> None:
    frame = client.list_projects()
    assert list(frame.columns) == ["name", "uuid", "created_at", "last_modified", "description"]
    row = frame[frame["name"] == project_name].iloc[0]
    assert row["uuid"] == client.project.uuid
    assert isinstance(row["created_at"], pd.Timestamp)
    assert row["created_at"].tzinfo is not None


def test_no_project_selected(server: RunningServer) -> None:
    with (
        Client(server=server.url, api_key=server.api_key) as client,
        pytest.raises(CapturehubError, match="no project selected"),
    ):
        client.list_captures()


def test_duplicate_project_is_conflict(client: Client, project_name: str) -> None:
    with pytest.raises(ConflictError) as caught:
        client.projects.create_project(project_name)
    assert caught.value.status_code == 409
    assert caught.value.detail


def test_other_team_cannot_see_project(client: Client, server: RunningServer) -> None:
    other = server.other
    with Client(server=server.url, username=other.username, password=other.password) as rival:
        assert rival.projects.get_project_by_name(client.project.name) is None
        assert rival.projects.get_project_by_uuid(client.project.uuid) is None


def test_project_delete(client: Client, project_name: str) -> None:
    client.project.delete()
    assert client.projects.get_project_by_name(project_name) is None


def test_unreachable_server() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    started = time.monotonic()
    with pytest.raises(ServerUnreachableError) as caught:
        Client(server=url, api_key="k", retries=2)
    assert isinstance(caught.value, ConnectionError)  # also the builtin
    assert caught.value.url == url + "team-info/"
    assert time.monotonic() - started < 10


def test_idempotent_requests_retry_on_503_and_dropped_connections(
    proxy: FaultProxy, server: RunningServer, project_name: str
) -> None:
    with Client(server=proxy.url, api_key=server.api_key) as client:
        client.connection.retry = RetryPolicy(retries=4, backoff=0.01)
        client.project = project_name
        proxy.requests.clear()
        proxy.fail_next("503", "drop", "502", "504")
        assert client.project.captures.get_captures() == []
        assert len(proxy.requests) == 5  # four faults, then the answer


def test_retries_run_out(proxy: FaultProxy, server: RunningServer, project_name: str) -> None:
    with Client(server=proxy.url, api_key=server.api_key, retries=1) as client:
        client.project = project_name
        proxy.fail_next("503", "503")
        with pytest.raises(ServerError) as caught:
            client.project.captures.get_captures()
        assert caught.value.status_code == 503
        assert caught.value.detail == "injected fault"


def test_post_is_not_retried_after_a_server_error(
    proxy: FaultProxy, server: RunningServer, project_name: str, watch_files: list[Path]
) -> None:
    with Client(server=proxy.url, api_key=server.api_key) as client:
        client.project = project_name
        proxy.fail_next("503")
        with pytest.raises(ServerError):
            client.project.captures.create_capture("once", watch_files[0])
        assert client.project.captures.get_captures() == []


def test_server_error_carries_detail(
    proxy: FaultProxy, server: RunningServer, project_name: str
) -> None:
    with Client(server=proxy.url, api_key=server.api_key) as client:
        client.project = project_name
        proxy.fail_next("500")
        with pytest.raises(ServerError) as caught:
            client.list_captures()
        assert caught.value.status_code == 500
        assert caught.value.method == "GET"
        assert "/api/project/" in (caught.value.url or "")


def test_every_request_has_a_timeout(client: Client) -> None:
    timeout = client.connection.timeout
    assert None not in (timeout.connect, timeout.read, timeout.write, timeout.pool)


def test_import_is_light(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, capturehub; "
        "heavy = {'pandas', 'pyarrow', 'fastapi', 'sqlalchemy', 'uvicorn', 'starlette', "
        "'pydantic_settings', 'pydantic'}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_timeout_is_translated(proxy: FaultProxy, server: RunningServer, project_name: str) -> None:
    with Client(proxy.url, api_key=server.api_key, project=project_name) as client:
        client.connection.retry = RetryPolicy(retries=0)
        client.connection.timeout = httpx.Timeout(0.5)
        proxy.fail_next("slow")
        with pytest.raises(RequestTimeoutError) as caught:
            client.list_captures()
    assert isinstance(caught.value, ServerUnreachableError)
    assert isinstance(caught.value, TimeoutError)  # also the builtin
    assert caught.value.status_code is None
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)  # kept for debugging


def test_logout_revokes_the_tokens_and_ends_the_client(server: RunningServer) -> None:
    """After ``logout()`` the login's tokens are refused everywhere (a saved copy too), and
    the client does not log in again by itself with its password."""
    client = Client(server=server.url, username=server.username, password=server.password)
    tokens = client.tokens
    assert tokens is not None and tokens.refresh_token
    client.logout()
    with pytest.raises(AuthenticationError, match="logged out"):
        client.team_info()
    client.close()
    who = httpx.get(
        server.url + "team-info/", headers={"Authorization": f"Bearer {tokens.access_token}"}
    )
    assert who.status_code == 401
    saved = Client(server=server.url, token=tokens.access_token, refresh_token=tokens.refresh_token)
    with saved, pytest.raises(AuthenticationError, match="could not be renewed"):
        saved.team_info()  # the access token is refused, and so is the refresh token
