"""A capture's ``version`` counts changes to it, its metadata and its segments included.

Clients (the SDKs, caches, sync tools) compare versions to know whether what they hold is
stale, so every write that changes what a capture's metadata or segments read as must bump it:
one UPDATE per request, whatever the number of relationships it touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from capturehub.server.models import Capture, utcnow

# Bound parameters per statement: well under SQLite's and PostgreSQL's limits.
CHUNK = 1000


def bump_captures(session: Session, capture_ids: Iterable[int]) -> None:
    ids = sorted(set(capture_ids))
    now = utcnow()
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(Capture)
            .where(Capture.id.in_(ids[start : start + CHUNK]))
            .values(version=Capture.version + 1, last_modified=now)
            .execution_options(synchronize_session=False)
        )


def bump_captures_in(session: Session, capture_ids: Any) -> None:
    """Bump the captures a subquery selects (e.g. those with segments of a deleted label)."""
    session.execute(
        update(Capture)
        .where(Capture.id.in_(capture_ids))
        .values(version=Capture.version + 1, last_modified=utcnow())
        .execution_options(synchronize_session=False)
    )


def lock_captures(session: Session, capture_ids: Iterable[int]) -> set[int]:
    """Row-lock these captures (PostgreSQL: FOR NO KEY UPDATE, in id order) before writing
    their metadata or segments; returns the ids still present.

    Deleting a capture locks its row and then cascades to its metadata and segments. A write
    that changed those rows first and bumped the capture's version last would deadlock with
    it; locking the captures first gives every writer the same order. The lock does not block
    other requests' foreign key checks (KEY SHARE). SQLite serializes writers anyway."""
    ids = sorted(set(capture_ids))
    present: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        present.update(
            session.scalars(
                select(Capture.id)
                .where(Capture.id.in_(ids[start : start + CHUNK]))
                .order_by(Capture.id)
                .with_for_update(key_share=True)
            )
        )
    return present
