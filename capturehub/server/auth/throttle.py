"""Login throttling: failed logins are counted per client address and per (user name, address).

- Per address, whatever the user name: one address trying a password on many user names
  (spraying) is refused after :data:`ADDRESS_FREE_FAILURES` failures.
- Per user name from one address: guessing one user's password is refused after
  :data:`USER_FREE_FAILURES` failures from that address. Nothing counts per user name alone,
  so a stranger's failures never lock the owner out: the owner's address has its own budget.

Past its free failures, a budget's each further failure refuses the next attempts for twice as
long as the last (2 s, 4 s, ... up to 15 minutes); a refused attempt (429, with
``Retry-After``) is not checked and does not count. A budget is forgotten an hour after its
last failure; a successful login forgets the (user name, address) budget, not the address's.
IPv6 clients count per /64 network, since one machine can use a whole /64.

Rows live in the database so that every server of a cluster shares them; keys are hashes, so
the table holds no user names. Concurrent attempts that all pass the check before any of them
fails may each still be tried: the bound is the number of simultaneous requests.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from capturehub.server.errors import TooManyRequests
from capturehub.server.models import LoginThrottle

ADDRESS_FREE_FAILURES = 20
USER_FREE_FAILURES = 10
FIRST_BLOCK = timedelta(seconds=2)
LONGEST_BLOCK = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Budget:
    key: str
    free_failures: int


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def network_of(address: str) -> str:
    """What one client is counted as: its IPv4 address, or its IPv6 /64 network."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return address[:100]  # not an address (a test client, a unix socket): as it is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def budgets(username: str, address: str) -> list[Budget]:
    network = network_of(address)
    return [
        Budget(_hash("address", network), ADDRESS_FREE_FAILURES),
        Budget(_hash("user", username, network), USER_FREE_FAILURES),
    ]


def check(session: Session, username: str, address: str) -> None:
    """Raise 429 (with ``Retry-After``) when this user name or address must wait."""
    now = _now()
    address_budget, user_budget = budgets(username, address)
    rows = session.execute(
        select(LoginThrottle.key, LoginThrottle.blocked_until).where(
            LoginThrottle.key.in_([address_budget.key, user_budget.key]),
            LoginThrottle.blocked_until > now,
        )
    ).all()
    if not rows:
        return
    until = max(_aware(blocked_until) for _key, blocked_until in rows if blocked_until)
    seconds = max(1, math.ceil((until - now).total_seconds()))
    wait = f"{seconds} second{'s' if seconds != 1 else ''}"
    if any(key == address_budget.key for key, _until in rows):
        message = f"Too many failed logins from your address; try again in {wait}."
    else:
        message = f"Too many failed logins for {username!r} from your address; try again in {wait}."
    raise TooManyRequests(message, headers={"Retry-After": str(seconds)})


def record_failure(session: Session, username: str, address: str) -> None:
    now = _now()
    for budget in budgets(username, address):
        row = _locked_row(session, budget.key, now)
        if _aware(row.last_failure_at) < now - FORGET_AFTER:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        beyond = row.failures - budget.free_failures
        if beyond >= 0:
            block = min(FIRST_BLOCK * 2 ** min(beyond, 20), LONGEST_BLOCK)
            row.blocked_until = now + block
    # Keep the table small: forgotten budgets go.
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - FORGET_AFTER - LONGEST_BLOCK
        )
    )


def record_success(session: Session, username: str, address: str) -> None:
    """The user proved the password from this address: forget its failures there."""
    _address_budget, user_budget = budgets(username, address)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == user_budget.key))


def _locked_row(session: Session, key: str, now: datetime) -> LoginThrottle:
    """The budget's row, created when missing, locked until the transaction ends (two
    servers counting a failure at once both count)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, last_failure_at=now, blocked_until=None)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = session.scalar(
        select(LoginThrottle)
        .where(LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None  # inserted above, or already there
    return row
