"""Login throttling: per client address and per (user name, address), shared by every server.

A failed login counts against the address it came from (whatever the user name) and against
the user name from that address, never against the user name alone: spraying one password
over many user names is stopped, and a stranger's failures cannot lock the owner out.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from capturehub.server.auth.throttle import ADDRESS_FREE_FAILURES, USER_FREE_FAILURES, network_of
from capturehub.server.proxies import forwarded_client, parse_networks
from tests.conftest import RunningServer
from tests.servers import ServerProcess, new_server, stranger_address


def _login(url: str, username: str, password: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        url + "oauth/token/",
        data={"grant_type": "password", "username": username, "password": password},
        headers=headers,
        timeout=60,
    )


def _names(count: int) -> list[str]:
    return [f"sprayed-{uuid.uuid4().hex[:8]}" for _ in range(count)]


def test_spraying_user_names_from_one_address_is_throttled(server: RunningServer) -> None:
    address = stranger_address()
    answers = [_login(server.url, name, "Summer2026!", address) for name in _names(30)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:ADDRESS_FREE_FAILURES] == [400] * ADDRESS_FREE_FAILURES
    assert statuses[ADDRESS_FREE_FAILURES] == 429, statuses
    refused = answers[ADDRESS_FREE_FAILURES]
    assert refused.json()["detail"].startswith("Too many failed logins from your address")
    assert int(refused.headers["retry-after"]) >= 1
    # Even a right password is not checked from that address meanwhile...
    assert _login(server.url, server.username, server.password, address).status_code == 429
    # ...while everyone else logs in.
    assert _login(server.url, server.username, server.password, stranger_address()).is_success


def test_a_stranger_cannot_lock_the_owner_out(server: RunningServer) -> None:
    owner = server.process.create_account(f"owner-{uuid.uuid4().hex[:6]}", server.team)
    stranger, home = stranger_address(), stranger_address()
    statuses = [
        _login(server.url, owner.username, "guess", stranger).status_code
        for _ in range(USER_FREE_FAILURES + 2)
    ]
    assert statuses == [400] * USER_FREE_FAILURES + [429, 429]
    # The stranger is throttled, right password or not.
    assert _login(server.url, owner.username, owner.password, stranger).status_code == 429
    # The owner, at their own address, logs in.
    answer = _login(server.url, owner.username, owner.password, home)
    assert answer.status_code == 200 and answer.json()["access_token"]


def test_forwarded_address_counts_only_from_a_trusted_proxy(
    server: RunningServer, tmp_path: Path
) -> None:
    """From loopback (trusted by default) each X-Forwarded-For address has its own budget; a
    server that trusts no proxy ignores the header, so the same requests share one budget."""
    many = ADDRESS_FREE_FAILURES + 5
    trusted = [_login(server.url, name, "pw", stranger_address()) for name in _names(many)]
    assert [answer.status_code for answer in trusted] == [400] * many

    untrusting = new_server("sqlite", tmp_path)
    try:
        # uvicorn's own proxy-header handling is off: its FORWARDED_ALLOW_IPS cannot make
        # it trust the header from everyone.
        untrusting.start(CAPTUREHUB_TRUSTED_PROXIES="", FORWARDED_ALLOW_IPS="*")
        answers = [_login(untrusting.url, n, "pw", stranger_address()) for n in _names(many)]
    finally:
        untrusting.close()
    statuses = [answer.status_code for answer in answers]
    assert statuses[:ADDRESS_FREE_FAILURES] == [400] * ADDRESS_FREE_FAILURES
    assert set(statuses[ADDRESS_FREE_FAILURES:]) == {429}


def test_the_client_behind_proxies_is_the_first_untrusted_hop() -> None:
    trusted = parse_networks("127.0.0.1, ::1, 10.0.0.0/8")
    # A client may write anything on the left; the last proxy's view is what counts.
    assert forwarded_client("6.6.6.6, 198.51.100.7, 10.1.2.3", trusted) == "198.51.100.7"
    assert forwarded_client("10.0.0.9, 10.1.2.3", trusted) == "10.0.0.9"
    assert parse_networks("") == []


def test_a_bad_trusted_proxies_setting_stops_the_server(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CAPTUREHUB_DATA_DIR": str(tmp_path),
        "CAPTUREHUB_TRUSTED_PROXIES": "10.0.0.300",
    }
    command = [sys.executable, "-m", "capturehub.cli.main", "serve", "--port", "1"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "'10.0.0.300' is not an IP address or network" in result.stdout + result.stderr


def test_servers_sharing_a_database_share_the_throttle(
    twin_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = twin_servers
    address = stranger_address()
    half = ADDRESS_FREE_FAILURES // 2
    on_first = [_login(first.url, name, "pw", address).status_code for name in _names(half)]
    on_second = [_login(second.url, name, "pw", address).status_code for name in _names(half)]
    assert on_first + on_second == [400] * ADDRESS_FREE_FAILURES
    assert _login(first.url, "anyone", "pw", address).status_code == 429
    assert _login(second.url, "anyone", "pw", address).status_code == 429


def test_ipv6_clients_count_per_64_network() -> None:
    """One machine can use every address of its /64: they count as one client."""
    assert (
        network_of("2001:db8:1:2::1") == network_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert network_of("2001:db8:1:3::1") != network_of("2001:db8:1:2::1")
    assert network_of("::ffff:198.51.100.7") == network_of("198.51.100.7") == "198.51.100.7"
