"""Named leases on rows of ``housekeeping_lease``: what lets exactly one process of a cluster
do a job (the housekeeping, the MQTT subscription) while any other can take over when it
stops or dies. A holder renews its lease well before it expires; an expired lease is anyone's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from capturehub.server.db import Database
from capturehub.server.models import HousekeepingLease


def take_lease(db: Database, name: str, holder: str, seconds: float) -> bool:
    """Take or renew lease ``name`` for ``seconds``; False while another live process holds
    it."""
    now = datetime.now(UTC)
    until = now + timedelta(seconds=seconds)
    with db.session() as session:
        renewed = session.execute(
            update(HousekeepingLease)
            .where(
                HousekeepingLease.name == name,
                or_(HousekeepingLease.holder == holder, HousekeepingLease.expires_at < now),
            )
            .values(holder=holder, expires_at=until, passes=HousekeepingLease.passes + 1)
        )
        if renewed.rowcount:  # type: ignore[attr-defined]
            return True
        if session.get(HousekeepingLease, name) is not None:
            return False
    try:  # the first pass of a new database
        with db.session() as session:
            session.add(
                HousekeepingLease(
                    name=name, holder=holder, expires_at=until, passes=1, statistics_generation=0
                )
            )
    except IntegrityError:  # another process created it at the same moment
        return False
    return True


def release_lease(db: Database, name: str, holder: str) -> None:
    """Let another process take lease ``name`` at its next try (this holder is stopping)."""
    expired = datetime.now(UTC) - timedelta(seconds=1)
    with db.session() as session:
        session.execute(
            update(HousekeepingLease)
            .where(HousekeepingLease.name == name, HousekeepingLease.holder == holder)
            .values(expires_at=expired)
        )
