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
the table holds no user names.

An attempt is counted as a failure *before* its password is checked (:func:`begin_attempt`, in
one transaction holding the budgets' rows) and taken back when the password was right
(:func:`record_success`). Checking first and counting after the slow password hash would let a
burst of simultaneous guesses all pass the check before the first of them was counted; counted
first, a burst gets no more guesses than the budget's free failures, whichever server answers.
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


def begin_attempt(session: Session, username: str, address: str) -> None:
    """Raise 429 (with ``Retry-After``) when this user name or address must wait; otherwise
    count the attempt as a failure now, before the password is checked.

    The budgets' rows stay locked until the caller's transaction ends, so that attempts
    arriving together (on any server) are counted one after the other."""
    now = _now()
    address_budget, user_budget = budgets(username, address)
    rows = {
        budget.key: _locked_row(session, budget.key, now)
        for budget in (address_budget, user_budget)
    }
    waits = {
        key: _aware(row.blocked_until)
        for key, row in rows.items()
        if row.blocked_until is not None and _aware(row.blocked_until) > now
    }
    if waits:
        seconds = max(1, math.ceil((max(waits.values()) - now).total_seconds()))
        wait = f"{seconds} second{'s' if seconds != 1 else ''}"
        if address_budget.key in waits:
            message = f"Too many failed logins from your address; try again in {wait}."
        else:
            message = (
                f"Too many failed logins for {username!r} from your address; try again in {wait}."
            )
        raise TooManyRequests(message, headers={"Retry-After": str(seconds)})
    for budget in (address_budget, user_budget):
        row = rows[budget.key]
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
    """The user proved the password from this address: forget its failures there, and take
    back the failure :func:`begin_attempt` counted against the address."""
    address_budget, user_budget = budgets(username, address)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == user_budget.key))
    row = session.scalar(
        select(LoginThrottle)
        .where(LoginThrottle.key == address_budget.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        return
    row.failures = max(0, row.failures - 1)
    if row.failures < address_budget.free_failures:
        row.blocked_until = None  # a block comes only past the free failures


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
