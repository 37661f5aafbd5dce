"""How every list is answered: one page, or the whole list as a streamed JSON array.

A project can hold hundreds of thousands of captures or segments, so an unpaged list is
written as the database yields its rows (memory stays flat). Relationship lists take
``?page_size=N[&page=K]`` (what the SensiML SDK's helpers send; pages count from 1) or
``?limit=N[&offset=M]`` (wire-api §1); the capture list pages by offset or by cursor
(capturehub/server/captures/paging.py). A page
is ``{"count", "next", "previous", "results"}``, its links the request's URL with the paging
parameters of the neighbouring pages.

The paging parameters are FastAPI dependencies (:data:`Paging`), so the
OpenAPI document lists and validates them from their declarations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy import Row, Select, func, select
from starlette.responses import Response

from capturehub.server.context import AppContext
from capturehub.server.streaming import ThreadStreamingResponse

MAX_PAGE_SIZE = 10_000
MAX_PAGE_NUMBER = 2**31
MAX_OFFSET = 2**62  # past any real list, and within every database's integer range
DEFAULT_PAGE_SIZE = 100
# Rows per streamed chunk: each chunk costs the server a thread hop, so a chunk per row would
# make a 100k-row list take seconds longer than the database does.
BATCH = 1000

RowJSON = Callable[[Row[Any]], dict[str, Any]]


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int
    by_number: bool = False  # asked as page/page_size (True) or limit/offset (False)


_WHOLE_LIST = (
    "With `page_size` or `page` (or `limit` or `offset`) the answer is one page, "
    "`{count, next, previous, results}`; without any of them, the whole list as an array."
)


# ``async``: it only reads the request, and FastAPI would run a plain ``def`` in a worker
# thread, a hop that costs more than the work (see ``context_dependency``, server/context.py).
async def _paging(
    request: Request,
    page_size: Annotated[
        int,
        Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size. {_WHOLE_LIST}"),
    ] = DEFAULT_PAGE_SIZE,
    page: Annotated[
        int, Query(ge=1, le=MAX_PAGE_NUMBER, description="Which page, counting from 1.")
    ] = 1,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, as `page_size`.")
    ] = DEFAULT_PAGE_SIZE,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip before the page.")
    ] = 0,
) -> Page | None:
    asked = request.query_params
    if "page_size" in asked or "page" in asked:
        return Page(limit=page_size, offset=(page - 1) * page_size, by_number=True)
    if "limit" in asked or "offset" in asked:
        return Page(limit=limit, offset=offset)
    return None


# The page a relationship list asks for (None: the whole list).
Paging = Annotated[Page | None, Depends(_paging)]


def _link(request: Request, page: Page, offset: int, count: int) -> str | None:
    if offset < 0 or offset >= count:
        return None
    if page.by_number:
        return str(
            request.url.include_query_params(page=offset // page.limit + 1, page_size=page.limit)
        )
    return str(request.url.include_query_params(offset=offset, limit=page.limit))


def page_body(request: Request, page: Page, count: int, results: list[Any]) -> dict[str, Any]:
    """One page: the count of the whole list, links to the next and previous pages."""
    previous = (
        _link(request, page, max(page.offset - page.limit, 0), count) if page.offset > 0 else None
    )
    return {
        "count": count,
        "next": _link(request, page, page.offset + page.limit, count),
        "previous": previous,
        "results": results,
    }


def json_response(content: Any, status_code: int = 200) -> Response:
    """JSON of plain values, without FastAPI's per-field encoder (10,000 items stay cheap)."""
    return Response(
        json.dumps(content, separators=(",", ":"), ensure_ascii=False),
        status_code=status_code,
        media_type="application/json",
    )


def list_response(
    request: Request, context: AppContext, query: Select[Any], to_json: RowJSON, page: Page | None
) -> Response:
    """The rows of ``query`` (already scoped and ordered) as a page or a streamed array."""
    if page is None:
        return stream_array(context, query, to_json)
    with context.db.read() as session:
        count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = session.connection().execute(query.limit(page.limit).offset(page.offset)).all()
    return json_response(page_body(request, page, count or 0, [to_json(row) for row in rows]))


def stream_array(
    context: AppContext, query: Select[Any], to_json: RowJSON
) -> ThreadStreamingResponse:
    """The rows of ``query`` as a JSON array written as they arrive (a Core query of
    columns: plain rows, no ORM objects)."""
    return ThreadStreamingResponse(_stream(context, query, to_json), media_type="application/json")


def _stream(context: AppContext, query: Select[Any], to_json: RowJSON) -> Iterator[bytes]:
    separator = ""
    with context.db.read() as session:
        result = session.connection().execute(query.execution_options(yield_per=BATCH))
        # The first chunk comes only once a connection is held and the query runs: until then
        # nothing is sent, so a busy pool can still be answered 503 (ThreadStreamingResponse).
        yield b"["
        for rows in result.partitions():
            items = [
                json.dumps(to_json(row), separators=(",", ":"), ensure_ascii=False) for row in rows
            ]
            yield (separator + ",".join(items)).encode()
            separator = ","
    yield b"]"
