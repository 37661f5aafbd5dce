"""How values look on the wire, shared by every feature's serializers."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(value: datetime | None) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``: the SensiML SDK parses exactly this (wire-api §1)."""
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored in UTC
        value = value.replace(tzinfo=UTC)
    if value.utcoffset():
        value = value.astimezone(UTC)
    # isoformat with fixed microseconds gives exactly that shape, several times faster than
    # strftime (a page of 100 captures formats 200 of these).
    return value.isoformat(timespec="microseconds")
