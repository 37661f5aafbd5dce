"""Credentials: secrets are stored only as hashes, passwords with argon2, logins rate-limited.

Read straight from the database (and, for SQLite, from the database files on disk): no access
token, refresh token, API key or password is stored in a form that could be used again.
"""

from __future__ import annotations

import hashlib
import uuid

import httpx
from sqlalchemy import select

from tests.conftest import RunningServer
from tests.reliability.support import client
from tests.servers import stranger_address


def test_secrets_are_stored_only_as_hashes(server: RunningServer) -> None:
    from capturehub.server.models import AccessToken, ApiKey, RefreshToken, User

    account = server.process.create_account(f"hashed-{uuid.uuid4().hex[:6]}", server.team)
    issued = httpx.post(
        server.url + "oauth/token/",
        data={
            "grant_type": "password",
            "username": account.username,
            "password": account.password,
        },
        timeout=60,
    ).json()
    secrets = [account.password, account.api_key, issued["access_token"], issued["refresh_token"]]
    with client(server.url, account.api_key) as api:
        assert api.get("team-info/").status_code == 200  # the key works...

    context = server.process.context()
    try:
        with context.db.read() as session:
            user = session.scalar(select(User).where(User.username == account.username))
            assert user is not None
            assert user.password_hash.startswith("$argon2id$"), user.password_hash[:12]
            tokens = set(session.scalars(select(AccessToken.token_hash)))
            refresh = set(session.scalars(select(RefreshToken.token_hash)))
            keys = set(session.scalars(select(ApiKey.key_hash)))
            prefixes = set(session.scalars(select(ApiKey.prefix)))
    finally:
        context.db.dispose()

    def sha(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    # ...yet the database holds only its hash (and a short prefix to recognise it by).
    assert sha(issued["access_token"]) in tokens
    assert sha(issued["refresh_token"]) in refresh
    assert sha(account.api_key) in keys
    assert all(len(prefix) <= 16 for prefix in prefixes)
    stored = tokens | refresh | keys
    for secret in secrets:
        assert secret not in stored
    if server.backend == "sqlite":
        for path in server.data_dir.glob("capturehub.db*"):
            raw = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in raw, f"a secret is readable in {path.name}"
    log = server.process.log()
    for secret in secrets:
        assert secret not in log


def test_failed_logins_are_rate_limited_per_user(server: RunningServer) -> None:
    """10 failures for one user name from one address, then 429 (even with the right
    password) from that address; other users are not affected. On both databases (the
    attempts are kept in the database)."""
    victim = server.process.create_account(f"limited-{uuid.uuid4().hex[:6]}", server.team)
    bystander = server.process.create_account(f"bystander-{uuid.uuid4().hex[:6]}", server.team)
    address = stranger_address()

    def login(username: str, password: str) -> httpx.Response:
        return httpx.post(
            server.url + "oauth/token/",
            data={"grant_type": "password", "username": username, "password": password},
            headers=address,
            timeout=60,
        )

    statuses = [login(victim.username, "wrong password").status_code for _ in range(11)]
    assert statuses == [400] * 10 + [429]
    refused = login(victim.username, victim.password)
    assert refused.status_code == 429
    assert refused.headers.get("retry-after") in ("1", "2")  # the first wait: 2 s
    assert "access_token" not in refused.text
    assert login(bystander.username, bystander.password).status_code == 200
