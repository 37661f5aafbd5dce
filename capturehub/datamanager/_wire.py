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


def iter_capture_list(
    connection: Connection,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Every capture of a capture list route, paged by cursor (docs/api.md, "Paging the
    capture list"): each page starts where the previous one ended, so reading a million
    captures costs the same per page at any depth (offset paging would re-read everything
    skipped). A server without cursors ignores ``after`` and answers offset pages: the rest
    is then read by offset, as :func:`iter_list` does.
    """
    page_size = page_size or PAGE_SIZE
    query: dict[str, Any] = {**(params or {}), "limit": page_size, "after": ""}
    body = json_body(connection.request("GET", path, params=query))
    if not (isinstance(body, dict) and "next_cursor" in body):
        yield from _first_page_then_offsets(connection, path, params, page_size, body)
        return
    while True:
        results = body.get("results")
        if not isinstance(results, list):
            raise ServerError(f"unexpected list answer from {path}: {body!r:.200}")
        yield from results
        cursor = body.get("next_cursor")
        if not cursor:
            return
        query["after"] = cursor
        body = json_body(connection.request("GET", path, params=query))
        if not isinstance(body, dict):
            raise ServerError(f"unexpected list answer from {path}: {body!r:.200}")


def _first_page_then_offsets(
    connection: Connection,
    path: str,
    params: Mapping[str, Any] | None,
    page_size: int,
    first: Any,
) -> Iterator[dict[str, Any]]:
    """The answer of a server that does not page by cursor: a plain array is the whole list;
    an offset page (the first) is read again with the rest by offset."""
    if isinstance(first, list):
        yield from first
        return
    yield from iter_list(connection, path, params, page_size=page_size)
