"""How the capture list is paged: by offset (``limit``/``offset``, wire-api §1) or by cursor
(``after``), and how much of its count a filtered page pays for.

An offset page costs what it skips: the database steps over ``offset`` index entries before
the page, so a random page of a million captures reads hundreds of thousands of them. A
cursor names the last capture of the previous page by its place in the order (the sort
value and the id that breaks ties); the next page starts there through the index, whatever
its depth. Cursors are opaque to clients (base64 of JSON) and carry the ordering they were
made for, so a cursor sent with another ordering is refused rather than misread.

A filtered list's exact count reads every match (a million-capture project can have hundreds
of thousands); the page answers it exactly up to ``SMALL_MATCH`` matches and otherwise says
"more than that" (``count`` null, ``count_at_least``), unless the client asks ``count=exact``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from capturehub.server.errors import BadRequest
from capturehub.server.listing import DEFAULT_PAGE_SIZE, MAX_OFFSET, MAX_PAGE_SIZE

# Orderings whose sort values are timestamps (sent in the cursor as ISO 8601 text).
TIME_ORDERINGS = frozenset({"created_at", "last_modified"})
TEXT_ORDERINGS = frozenset({"name"})
NUMBER_ORDERINGS = frozenset({"file_size", "number_samples"})
COUNT_EXACT = "exact"
# A filtered list with at most this many matches is counted (and offset-paged) from one query
# of its ids; past it the count is "more than SMALL_MATCH" unless asked ``count=exact``.
# Finding the matches is the cost of a filtered page (each is an index probe per filter):
# at 1,000,000 captures, counting up to 5,000 of them took 70 ms of a 73 ms page (p50), up
# to 1,000 keeps the page near 50 ms p95 (docs/performance.md).
SMALL_MATCH = 1_000


@dataclass(frozen=True)
class Cursor:
    """A place in the capture list: just after the capture with this sort value and id."""

    ordering: str  # as asked, with its "-" when descending
    value: Any  # datetime, str, int or None (number_samples before processing)
    id: int

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = json.dumps([self.ordering, value, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str, ordering: str) -> Cursor:
    """The cursor ``text`` of a page answer's ``next_cursor``, for a list in ``ordering``; a
    400 that says what to send when it is not one, or was made for another ordering."""
    refused = BadRequest(
        "`after` is not a cursor of this list; send the `next_cursor` of the previous page "
        "as it was given, or leave `after` empty to start from the beginning.",
        data={"after": ["not a cursor of this list"]},
    )
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        made_for, value, capture_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise refused from None
    if not isinstance(made_for, str) or type(capture_id) is not int:
        raise refused
    if made_for != ordering:
        raise BadRequest(
            f"This cursor was made for `ordering={made_for}`, not `{ordering}`; send the "
            "ordering the cursor was made with, or start again without `after`.",
            data={"after": ["made for another ordering"]},
        )
    return Cursor(ordering, _sort_value(ordering.lstrip("-"), value, refused), capture_id)


def _sort_value(column: str, value: Any, refused: BadRequest) -> Any:
    if column in TIME_ORDERINGS and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise refused from None
    if column in TEXT_ORDERINGS and isinstance(value, str):
        return value
    if column in NUMBER_ORDERINGS and (value is None or type(value) is int):
        return value
    raise refused


@dataclass(frozen=True)
class CapturePage:
    """The page a capture list asks for: ``limit`` captures after ``offset`` of them, or after
    the cursor ``after`` ("" for the start of the list) when paging by cursor."""

    limit: int
    offset: int = 0
    after: str | None = None
    exact_count: bool = False

    @property
    def by_cursor(self) -> bool:
        return self.after is not None


@dataclass(frozen=True)
class PageCount:
    """How many captures the list holds: ``exact``, or (not counted further) at least
    ``at_least``."""

    exact: int | None
    at_least: int

    @classmethod
    def of(cls, count: int) -> PageCount:
        return cls(count, count)


# ``async``: it only reads the request, and FastAPI would run a plain ``def`` in a worker
# thread, a hop that costs more than the work (see ``context_dependency``, server/context.py).
async def _capture_paging(
    request: Request,
    limit: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_PAGE_SIZE,
            description="Page size. With `limit`, `offset` or `after` the answer is one page, "
            "`{count, next, previous, results}`; without any, the whole list as an array.",
        ),
    ] = DEFAULT_PAGE_SIZE,
    offset: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_OFFSET,
            description="How many captures to skip before the page (costs what it skips: "
            "prefer `after` deep into a large list).",
        ),
    ] = 0,
    after: Annotated[
        str | None,
        Query(
            max_length=4096,
            description="Page by cursor: the captures after the previous page's "
            "`next_cursor` (empty: from the start). The answer carries `next_cursor` "
            "(null on the last page); each page costs the same at any depth.",
        ),
    ] = None,
    count: Annotated[
        str | None,
        Query(
            description="`exact`: count every match of a filtered list (otherwise a list "
            f"of more than {SMALL_MATCH:,} matches answers `count: null` and `count_at_least`)."
        ),
    ] = None,
) -> CapturePage | None:
    asked = request.query_params
    if count not in (None, COUNT_EXACT):
        raise BadRequest(
            f"`count` takes only `{COUNT_EXACT}` (to count every match of a filtered list).",
            data={"count": ["only `exact`"]},
        )
    if after is not None and "offset" in asked:
        raise BadRequest(
            "Send either `offset` or `after`, not both: `after` pages by cursor.",
            data={"after": ["not with offset"]},
        )
    if not ({"limit", "offset"} & set(asked)) and after is None:
        return None
    return CapturePage(limit=limit, offset=offset, after=after, exact_count=count == COUNT_EXACT)


# The page the capture list asks for (None: the whole list, streamed).
CapturePaging = Annotated[CapturePage | None, Depends(_capture_paging)]


def page_body(
    request: Request,
    page: CapturePage,
    *,
    count: PageCount,
    results: list[Any],
    more: bool,
    next_cursor: Cursor | None,
) -> dict[str, Any]:
    """One page of the capture list. An offset page keeps wire-api §1's shape, ``{count,
    next, previous, results}`` (``count`` null and ``count_at_least`` added when not counted);
    a cursor page adds ``next_cursor`` and has no ``previous`` (cursors go forward)."""
    body: dict[str, Any] = {"count": count.exact}
    if count.exact is None:
        body["count_at_least"] = count.at_least
    if page.by_cursor:
        token = next_cursor.encode() if next_cursor is not None else None
        body["next"] = (
            None
            if token is None
            else str(
                request.url.remove_query_params("offset").include_query_params(
                    after=token, limit=page.limit
                )
            )
        )
        body["previous"] = None
        body["results"] = results
        body["next_cursor"] = token
        return body
    body["next"] = (
        str(request.url.include_query_params(offset=page.offset + page.limit, limit=page.limit))
        if more
        else None
    )
    body["previous"] = (
        str(
            request.url.include_query_params(
                offset=max(page.offset - page.limit, 0), limit=page.limit
            )
        )
        if page.offset > 0
        and (count.exact is None or max(page.offset - page.limit, 0) < count.exact)
        else None
    )
    body["results"] = results
    return body
