"""Logging in, tokens, API keys and team-info, over HTTP (wire-api §2)."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer


def _login(server: RunningServer, **form: str) -> httpx.Response:
    return httpx.post(server.url + "oauth/token/", data=form)


def test_password_grant_gives_tokens(server: RunningServer) -> None:
    response = _login(
        server, grant_type="password", username=server.username, password=server.password
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read write"
    assert body["expires_in"] == 36000
    assert len(body["access_token"]) >= 40 and len(body["refresh_token"]) >= 40


def test_basic_auth_client_credentials_are_accepted_not_checked(server: RunningServer) -> None:
    basic = base64.b64encode(b"some-public-client-id:").decode()
    response = httpx.post(
        server.url + "oauth/token/",
        data={"grant_type": "password", "username": server.username, "password": server.password},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    form_client = _login(
        server,
        grant_type="password",
        username=server.username,
        password=server.password,
        client_id="browser-app",
        client_secret="",
    )
    assert form_client.status_code == 200


def test_wrong_password_is_invalid_grant(server: RunningServer) -> None:
    response = _login(server, grant_type="password", username=server.username, password="nope")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    unknown = _login(server, grant_type="password", username="nobody-here", password="x")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_old_refresh_token_dies(server: RunningServer) -> None:
    first = _login(
        server, grant_type="password", username=server.username, password=server.password
    ).json()
    second = _login(server, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    new = second.json()
    assert new["access_token"] != first["access_token"]
    assert new["refresh_token"] != first["refresh_token"]
    reused = _login(server, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    missing = _login(server, grant_type="refresh_token")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    team = httpx.get(
        server.url + "team-info/", headers={"Authorization": f"Bearer {new['access_token']}"}
    )
    assert team.status_code == 200


def test_team_info_with_token_and_api_key(server: RunningServer) -> None:
    for secret in (server.token(), server.api_key):
        response = httpx.get(
            server.url + "team-info/", headers={"Authorization": f"Bearer {secret}"}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["name"] == server.team
        assert len(body["uuid"]) == 36


def test_missing_invalid_and_expired_tokens_are_401(server: RunningServer) -> None:
    assert httpx.get(server.url + "project/").status_code == 401
    bad = httpx.get(server.url + "project/", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    body = bad.json()
    assert body["status"] == 401 and "log in again" in body["detail"]
    account = server.process.create_account("expiring-user", "lab")
    token = server.token(account)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(server.url + "project/", headers=headers).status_code == 200
    server.expire_tokens(account.username)
    assert httpx.get(server.url + "project/", headers=headers).status_code == 401


def test_public_routes_need_no_token(server: RunningServer) -> None:
    version = httpx.get(server.url + "version/")
    assert version.status_code == 200
    assert version.json()["name"] == "capturehub"
    assert "SensiML_Python_Library_Windows_Minimum" not in version.json()
    assert httpx.get(server.url + "healthz/").json() == {"status": "ok"}
    assert httpx.get(server.url + "openapi.json").status_code == 200


def test_token_answers_are_not_cached(server: RunningServer) -> None:
    """Answers carrying tokens say no-store (RFC 6749 §5.1), so no browser or proxy keeps them."""
    issued = _login(
        server, grant_type="password", username=server.username, password=server.password
    )
    refreshed = _login(
        server, grant_type="refresh_token", refresh_token=issued.json()["refresh_token"]
    )
    refused = _login(server, grant_type="refresh_token", refresh_token="spent")
    for answer in (issued, refreshed, refused):
        assert answer.headers["cache-control"] == "no-store", answer.text
        assert answer.headers["pragma"] == "no-cache"
    assert (issued.status_code, refreshed.status_code, refused.status_code) == (200, 200, 400)


def test_the_password_check_holds_no_database_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2 takes tens of milliseconds and 64 MiB on purpose: a burst of logins must not
    hold that many database connections (or transactions) while it runs."""
    from capturehub.server.auth import secrets, service
    from capturehub.server.db import upgrade
    from capturehub.server.runtime import build_context
    from capturehub.server.settings import Settings

    context = build_context(Settings(data_dir=tmp_path, workers=0))
    upgrade(context.db.engine)
    with context.db.session() as session:
        service.create_user(session, "ada", "a long secret", "lab")
    held: list[int] = []
    real_check = secrets.verify_password

    def watched(password_hash: str, password: str) -> bool:
        held.append(context.db.engine.pool.checkedout())  # type: ignore[attr-defined]
        return real_check(password_hash, password)

    monkeypatch.setattr(secrets, "verify_password", watched)
    try:
        for password in ("a long secret", "wrong one"):
            with contextlib.suppress(service.InvalidGrant):
                service.login(
                    context.db,
                    username="ada",
                    password=password,
                    address="192.0.2.1",
                    settings=context.settings,
                )
    finally:
        context.db.dispose()
    assert held == [0, 0]
