"""Small helpers for reading the wire format (wire-api.md) shared by the datamanager classes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from capturehub._transport import Connection, json_body
from capturehub.exceptions import ServerError

PAGE_SIZE = 1000


def parse_time(value: Any) -> datetime | None:
    """A wire timestamp (``2024-01-02T03:04:05.000000+00:00``) as an aware datetime."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def segment(value: str) -> str:
    """One URL path segment, with every reserved character percent-encoded."""
    return quote(str(value), safe="")


def iter_list(
    connection: Connection,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Every object of a list route, fetched in pages of ``page_size`` (default
    :data:`PAGE_SIZE`) (wire-api §1).

    A server that ignores ``limit`` answers a plain array: that is all of it. Objects already
    seen (by uuid) are skipped, so an insert during paging cannot yield a capture twice.
    """
    page_size = page_size or PAGE_SIZE
    seen: set[str] = set()
    offset = 0
    while True:
        query = {**(params or {}), "limit": page_size, "offset": offset}
        body = json_body(connection.request("GET", path, params=query))
        if isinstance(body, list):
            page, more = body, False
        elif isinstance(body, dict) and isinstance(body.get("results"), list):
            page = body["results"]
            count = body.get("count")
            more = bool(page) and (
                body.get("next") is not None
                if not isinstance(count, int)
                else offset + len(page) < count
            )
        else:
            raise ServerError(f"unexpected list answer from {path}: {body!r:.200}")
        for item in page:
            key = item.get("uuid") if isinstance(item, dict) else None
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            yield item
        if not more:
            return
        offset += len(page)
