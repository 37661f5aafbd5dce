"""Revocation: API keys, a user's tokens, a user, and one login (``oauth/revoke_token/``).

Each is refused (401) at once by every server sharing the database: two server processes on
one database, the revocation made by the command line on the database or through either
server.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx

from tests.servers import Account, ServerProcess


def _capturehub(process: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "capturehub.cli.main", *args],
        env=process.settings_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _login(process: ServerProcess, account: Account) -> dict[str, str]:
    answer = httpx.post(
        process.url + "oauth/token/",
        data={"grant_type": "password", "username": account.username, "password": account.password},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, str] = answer.json()
    return body


def _status(process: ServerProcess, bearer: str) -> int:
    headers = {"Authorization": f"Bearer {bearer}"}
    return httpx.get(process.url + "team-info/", headers=headers, timeout=60).status_code


def _refresh_status(process: ServerProcess, refresh_token: str) -> int:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return httpx.post(process.url + "oauth/token/", data=form, timeout=60).status_code


def test_logout_all_disable_and_enable_hold_on_every_server(
    twin_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = twin_servers
    account = first.create_account(f"leaver-{uuid.uuid4().hex[:6]}", "lab")
    logins = [_login(first, account), _login(second, account)]
    servers = (first, second)
    for login in logins:
        assert [_status(s, login["access_token"]) for s in servers] == [200, 200]

    done = _capturehub(first, "user", "logout-all", account.username)
    assert done.returncode == 0, done.stderr
    assert "2 access tokens and 2 refresh tokens revoked" in done.stdout
    for login in logins:
        assert [_status(s, login["access_token"]) for s in servers] == [401, 401]
    assert _refresh_status(second, logins[0]["refresh_token"]) == 400
    assert _refresh_status(first, logins[1]["refresh_token"]) == 400
    # API keys are not tokens: they still work.
    assert [_status(s, account.api_key) for s in servers] == [200, 200]

    fresh = _login(second, account)
    disabled = _capturehub(first, "user", "disable", account.username)
    assert disabled.returncode == 0 and f"Disabled user {account.username!r}." in disabled.stdout
    assert [_status(s, account.api_key) for s in servers] == [401, 401]
    assert [_status(s, fresh["access_token"]) for s in servers] == [401, 401]
    refused = httpx.post(
        second.url + "oauth/token/",
        data={"grant_type": "password", "username": account.username, "password": account.password},
        timeout=60,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

    enabled = _capturehub(first, "user", "enable", account.username)
    assert enabled.returncode == 0 and f"Enabled user {account.username!r}." in enabled.stdout
    assert [_status(s, account.api_key) for s in servers] == [200, 200]
    # Disabling revoked the tokens: enabling does not bring the old login back.
    assert _status(first, fresh["access_token"]) == 401
    assert _status(first, _login(first, account)["access_token"]) == 200


def test_a_revoked_api_key_is_refused_by_every_server(
    twin_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = twin_servers
    account = first.create_account(f"keyed-{uuid.uuid4().hex[:6]}", "lab")
    listed = _capturehub(first, "apikey", "list", "--user", account.username)
    assert listed.returncode == 0, listed.stderr
    prefix = account.api_key[:10]
    [line] = listed.stdout.splitlines()
    assert line.startswith(f"{prefix}  {account.username}  ") and line.endswith("  active")
    assert account.api_key not in listed.stdout  # only its first characters

    revoked = _capturehub(first, "apikey", "revoke", prefix)
    assert revoked.returncode == 0, revoked.stderr
    assert f"Revoked API key {prefix} of {account.username!r}." in revoked.stdout
    assert [_status(s, account.api_key) for s in (first, second)] == [401, 401]
    after = _capturehub(first, "apikey", "list", "--user", account.username)
    assert after.stdout.strip().endswith("  revoked")

    unknown = _capturehub(first, "apikey", "revoke", "chk_nothing")
    assert unknown.returncode == 1
    assert "No API key 'chk_nothing'; see `capturehub apikey list`." in unknown.stderr


def test_revoke_token_ends_one_login_on_every_server(
    twin_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    """``POST oauth/revoke_token/`` (RFC 7009): 200 for a known or unknown token alike; the
    revoked tokens are refused by both servers, the user's other logins are untouched."""
    first, second = twin_servers
    account = first.create_account(f"revoker-{uuid.uuid4().hex[:6]}", "lab")
    ended, kept = _login(first, account), _login(first, account)
    for token in (ended["refresh_token"], ended["access_token"], "never-issued"):
        answer = httpx.post(second.url + "oauth/revoke_token/", data={"token": token}, timeout=60)
        assert answer.status_code == 200 and answer.json() == {}
        assert answer.headers["cache-control"] == "no-store"
    assert [_status(s, ended["access_token"]) for s in (first, second)] == [401, 401]
    assert _refresh_status(first, ended["refresh_token"]) == 400
    assert [_status(s, kept["access_token"]) for s in (first, second)] == [200, 200]
    missing = httpx.post(first.url + "oauth/revoke_token/", data={}, timeout=60)
    assert missing.status_code == 400 and "token" in missing.json()["detail"]


def test_a_revoked_refresh_token_ends_the_access_tokens_of_its_login(
    twin_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    """RFC 7009 2.1: revoking a refresh token also ends the access tokens issued with it and
    with its earlier refreshes (a leaked refresh token may have minted some), on every
    server; another login of the same user goes on."""
    first, second = twin_servers
    account = first.create_account(f"granted-{uuid.uuid4().hex[:6]}", "lab")
    login, other = _login(first, account), _login(first, account)
    form = {"grant_type": "refresh_token", "refresh_token": login["refresh_token"]}
    refreshed = httpx.post(second.url + "oauth/token/", data=form, timeout=60).json()
    minted = [login["access_token"], refreshed["access_token"]]
    assert [_status(first, token) for token in minted] == [200, 200]

    answer = httpx.post(
        first.url + "oauth/revoke_token/", data={"token": refreshed["refresh_token"]}, timeout=60
    )
    assert answer.status_code == 200
    assert [_status(s, token) for s in (first, second) for token in minted] == [401] * 4
    assert _refresh_status(second, refreshed["refresh_token"]) == 400
    assert [_status(s, other["access_token"]) for s in (first, second)] == [200, 200]
    assert _refresh_status(first, other["refresh_token"]) == 200
