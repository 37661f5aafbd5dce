"""How relationship lists are answered: a streamed JSON array, or a page.

A project can hold hundreds of thousands of segments, so an unpaged list is written row by row
as the database yields them (memory stays flat). ``?page_size=N[&page=K]`` (what the SensiML
SDK's helpers send; pages count from 1) or ``?limit=N[&offset=M]`` (wire-api §1) answer one
page instead: ``{"count", "next", "previous", "results"}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import Row, Select, func, select
from starlette.responses import Response, StreamingResponse

from capturehub.server.context import AppContext
from capturehub.server.errors import BadRequest

MAX_PAGE_SIZE = 10_000
BATCH = 1000
RowJSON = Callable[[Row[Any]], dict[str, Any]]


def _paging_parameter(name: str, description: str, minimum: int, default: int) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": minimum, "default": default},
    }


# The query parameters `page_of` reads by hand, for the OpenAPI document: pass as
# `openapi_extra=PAGED` on each route answered by `list_response`.
PAGED: dict[str, Any] = {
    "parameters": [
        _paging_parameter(
            "page_size",
            f"Page size (at most {MAX_PAGE_SIZE}). With `page_size` or `page` (or `limit` or "
            "`offset`) the answer is one page, `{count, next, previous, results}`; without "
            "any of them, the whole list as an array.",
            1,
            100,
        ),
        _paging_parameter("page", "Which page, counting from 1 (see `page_size`).", 1, 1),
        _paging_parameter("limit", f"Page size, as `page_size` (at most {MAX_PAGE_SIZE}).", 1, 100),
        _paging_parameter("offset", "How many items to skip before the page.", 0, 0),
    ]
}


def json_response(content: Any, status_code: int = 200) -> Response:
    """JSON of plain values, without FastAPI's per-field encoder (10,000 items stay cheap)."""
    return Response(
        json.dumps(content, separators=(",", ":"), ensure_ascii=False),
        status_code=status_code,
        media_type="application/json",
    )


@dataclass
class Page:
    limit: int
    offset: int
    by_number: bool  # page/page_size (True) or limit/offset (False)


def _whole(request: Request, name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw!r}.") from None
    if not minimum <= value <= maximum:
        raise BadRequest(f"{name} must be between {minimum} and {maximum}, not {value}.")
    return value


def page_of(request: Request) -> Page | None:
    params = request.query_params
    if "page_size" in params or "page" in params:
        size = _whole(request, "page_size", 100, minimum=1, maximum=MAX_PAGE_SIZE)
        number = _whole(request, "page", 1, minimum=1, maximum=2**31)
        return Page(limit=size, offset=(number - 1) * size, by_number=True)
    if "limit" in params or "offset" in params:
        limit = _whole(request, "limit", 100, minimum=1, maximum=MAX_PAGE_SIZE)
        offset = _whole(request, "offset", 0, minimum=0, maximum=2**62)
        return Page(limit=limit, offset=offset, by_number=False)
    return None


def _link(request: Request, page: Page, offset: int, count: int) -> str | None:
    if offset < 0 or offset >= count:
        return None
    if page.by_number:
        return str(
            request.url.include_query_params(page=offset // page.limit + 1, page_size=page.limit)
        )
    return str(request.url.include_query_params(offset=offset, limit=page.limit))


def list_response(
    request: Request, context: AppContext, query: Select[Any], to_json: RowJSON
) -> Response:
    """The rows of ``query`` (already scoped and ordered) as a page or a streamed array."""
    page = page_of(request)
    if page is None:
        return StreamingResponse(_stream(context, query, to_json), media_type="application/json")
    with context.db.read() as session:
        count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = session.execute(query.limit(page.limit).offset(page.offset)).all()
    count = count or 0
    return json_response(
        {
            "count": count,
            "next": _link(request, page, page.offset + page.limit, count),
            "previous": _link(request, page, max(page.offset - page.limit, 0), count)
            if page.offset > 0
            else None,
            "results": [to_json(row) for row in rows],
        }
    )


def _stream(context: AppContext, query: Select[Any], to_json: RowJSON) -> Iterator[bytes]:
    # One chunk per BATCH rows: each chunk costs the server a thread hop, so a chunk per row
    # would make a 100k-row list take seconds longer than the database does.
    yield b"["
    separator = ""
    with context.db.read() as session:
        batch: list[str] = []
        for row in session.execute(query.execution_options(yield_per=BATCH)):
            batch.append(
                separator + json.dumps(to_json(row), separators=(",", ":"), ensure_ascii=False)
            )
            separator = ","
            if len(batch) >= BATCH:
                yield "".join(batch).encode()
                batch = []
        if batch:
            yield "".join(batch).encode()
    yield b"]"
