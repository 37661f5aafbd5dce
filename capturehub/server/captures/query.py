"""The capture list's query: its parameters, its filters, its order and its pages.

``?name=`` exact name, ``?name__contains=`` substring (case-insensitive), ``?task_state=``
one state or a comma-separated list, ``?format=.csv``, ``?ordering=`` one of
:data:`ORDERINGS` (``-`` for descending; default ``created_at``), and the metadata filters
(``metadata.<key>...``, capturehub/server/metadata/filters.py). Paging (by offset or by
cursor, and the bounded count of filtered pages) is described in paging.py.

The parameters are declared once, in :func:`capture_list_query` (a FastAPI dependency), so the
OpenAPI document lists them from the code. The metadata filters cannot be declared (their
names hold the project's keys): they are read from the query string and described in the
route's description.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import WithJsonSchema
from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from capturehub.ingest import formats as file_formats
from capturehub.server.captures.paging import (
    SMALL_MATCH,
    CapturePage,
    Cursor,
    PageCount,
    decode_cursor,
)
from capturehub.server.captures.schemas import TASK_STATES
from capturehub.server.db import id_among
from capturehub.server.errors import BadRequest
from capturehub.server.metadata import filters as metadata_filters
from capturehub.server.metadata.filters import MetadataFilter
from capturehub.server.models import Capture, CaptureConfiguration

ORDERINGS = {
    "created_at": Capture.created_at,
    "last_modified": Capture.last_modified,
    "name": Capture.name,
    "file_size": Capture.file_size,
    "number_samples": Capture.number_samples,
}
DEFAULT_ORDERING = "created_at"
# Orderings on a column that may be NULL (number_samples, until the capture is processed).
NULLABLE_ORDERINGS = frozenset({"number_samples"})


@dataclass(frozen=True)
class IdQuery:
    """A query of the filtered captures' ids, and the columns that put it in the list's order
    (``orderings`` by name, and the tie-breaker)."""

    query: Select[Any]
    orderings: Mapping[str, Any] = field(default_factory=lambda: ORDERINGS)
    # A factory: a column as a plain default would act as a descriptor on the dataclass.
    tie_breaker: Any = field(default_factory=lambda: Capture.id)


@dataclass(frozen=True)
class PageIds:
    """The ids of one page (a list, or a query selecting them), the list's count, and
    whether another page follows (None: the ids hold one more than the page when it does)."""

    ids: list[int] | Select[Any]
    count: PageCount
    more: bool | None


@dataclass(frozen=True)
class RowsPage:
    """One page of capture rows, the list's count, and the cursor of the next page."""

    rows: list[Any]
    count: PageCount
    more: bool
    next_cursor: Cursor | None


@dataclass(frozen=True)
class CaptureListQuery:
    """What a capture list asks for, checked: a 400 naming the parameter at fault otherwise."""

    name: str | None = None
    name_contains: str | None = None
    task_states: tuple[str, ...] = ()
    format: str | None = None
    ordering: str = DEFAULT_ORDERING
    metadata: tuple[MetadataFilter, ...] = ()

    @classmethod
    def parse(
        cls,
        *,
        name: str | None = None,
        name_contains: str | None = None,
        task_state: str | None = None,
        format: str | None = None,
        ordering: str | None = None,
        metadata: Sequence[MetadataFilter] = (),
    ) -> CaptureListQuery:
        return cls(
            name=name,
            name_contains=name_contains or None,
            task_states=_task_states(task_state),
            format=_format(format),
            ordering=_ordering(ordering),
            metadata=tuple(metadata),
        )

    @classmethod
    def of(cls, params: QueryParams) -> CaptureListQuery:
        """The query of a query string (as the route reads it)."""
        return cls.parse(
            name=params.get("name"),
            name_contains=params.get("name__contains"),
            task_state=params.get("task_state"),
            format=params.get("format"),
            ordering=params.get("ordering"),
            metadata=metadata_filters.parse_filters(params),
        )

    @property
    def has_filters(self) -> bool:
        """Whether the query narrows the list (ordering and paging do not)."""
        return bool(self.metadata) or self._has_capture_filters

    @property
    def _has_capture_filters(self) -> bool:
        return (
            self.name is not None
            or self.name_contains is not None
            or bool(self.task_states)
            or self.format is not None
        )

    def filtered(self, query: Select[Any], project_id: int, session: Session) -> Select[Any]:
        """``query`` (of ``capture``) narrowed to the project's captures that match."""
        query = query.where(Capture.project_id == project_id)
        if self.name is not None:
            query = query.where(Capture.name == self.name)
        if self.name_contains:
            escaped = (
                self.name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            )
            # Case-insensitive on every database (SQLite's LIKE already is, for ASCII).
            query = query.where(Capture.name.ilike(f"%{escaped}%", escape="\\"))
        if self.task_states:
            query = query.where(Capture.task_state.in_(self.task_states))
        if self.format is not None:
            query = query.where(Capture.format == self.format)
        if self.metadata:
            query = metadata_filters.apply_metadata_filters(
                query, self.metadata, project_id, session
            )
        return query

    def ordered(
        self,
        query: Select[Any],
        *,
        reverse: bool = False,
        orderings: Mapping[str, Any] = ORDERINGS,
        tie_breaker: Any = Capture.id,
    ) -> Select[Any]:
        """``query`` in the order asked for (``reverse``: the exact opposite, for reading from
        the end), by default on ``capture``'s columns."""
        descending = self.ordering.startswith("-") != reverse
        column = orderings[self.ordering.lstrip("-")]
        if descending:
            return query.order_by(column.desc(), tie_breaker.desc())
        return query.order_by(column, tie_breaker)

    def ordered_ids(self, ids: IdQuery, *, reverse: bool = False) -> Select[Any]:
        return self.ordered(
            ids.query, reverse=reverse, orderings=ids.orderings, tie_breaker=ids.tie_breaker
        )

    def ids(self, project_id: int, session: Session) -> IdQuery:
        """The ids of the captures asked for (all filters applied), to be paged.

        Metadata filters alone in the default order are answered from the metadata index,
        without reading ``capture`` (metadata/filters.py, ``ordered_ids``)."""
        if (
            self.metadata
            and not self._has_capture_filters
            and self.ordering.lstrip("-") == DEFAULT_ORDERING
        ):
            indexed = metadata_filters.ordered_ids(self.metadata, project_id, session)
            if indexed is not None:
                return IdQuery(
                    indexed.query,
                    orderings={DEFAULT_ORDERING: indexed.created_at},
                    tie_breaker=indexed.capture_id,
                )
        return IdQuery(self.filtered(select(Capture.id), project_id, session))

    def page_of_ids(
        self, session: Session, ids: IdQuery, page: CapturePage, capture_count: int
    ) -> PageIds:
        """The ids of the requested page (a list, or a query that selects them), and how many
        captures match.

        Ids are paged before rows are loaded (an index-only scan, even deep into the list;
        OFFSET on full rows would fetch every skipped row). The unfiltered list's count is the
        project's ``capture_count``. A filter usually matches few captures, and finding them is
        the expensive part, so the ordered ids of the first SMALL_MATCH + 1 matches are fetched
        once: when that is all of them, both the exact count and an offset page come from that
        list. Beyond it the count is "more than SMALL_MATCH" unless the page asks for the exact
        count (one more query, which reads every match).

        A cursor page starts after its cursor through the index of the order (``_after``), at
        the same cost at any depth. A page that the count cannot place (a cursor page, an
        offset page of an uncounted list) selects one id more than asked, to tell whether
        another page follows.
        """
        after = decode_cursor(page.after, self.ordering) if page.after else None
        if self.has_filters:
            matches = session.scalars(self.ordered_ids(ids).limit(SMALL_MATCH + 1)).all()
            if len(matches) <= SMALL_MATCH:
                count = PageCount.of(len(matches))
                if after is None:  # an offset page, or the first cursor page
                    end = page.offset + page.limit
                    return PageIds(list(matches[page.offset : end]), count, end < len(matches))
            elif page.exact_count:
                total = session.scalar(select(func.count()).select_from(ids.query.subquery()))
                count = PageCount.of(total or 0)
            else:
                count = PageCount(None, SMALL_MATCH + 1)
            if after is None and page.offset + page.limit < len(matches):
                # The first cursor page, or an offset page within the matches fetched.
                return PageIds(list(matches[page.offset : page.offset + page.limit]), count, True)
        else:
            count = PageCount.of(capture_count)
        if page.by_cursor:
            query = self.ordered_ids(ids)
            if after is not None:
                query = query.where(self._after(ids, after, session))
            return PageIds(query.limit(page.limit + 1), count, None)
        if count.exact is None:
            query = self.ordered_ids(ids).limit(page.limit + 1).offset(page.offset)
            return PageIds(query, count, None)
        more = page.limit > 0 and page.offset + page.limit < count.exact
        return PageIds(self._ids_at(ids, page, count.exact), count, more)

    def _after(self, ids: IdQuery, cursor: Cursor, session: Session) -> ColumnElement[bool]:
        """The condition "after ``cursor`` in the list's order" on the ids query's columns:
        a row comparison, which both databases answer as a range of the order's index.

        ``number_samples`` is NULL until a capture is processed, and the databases place NULL
        differently (PostgreSQL after every value in ascending order, SQLite before), so the
        condition follows the database's own order of the list."""
        descending = self.ordering.startswith("-")
        name = self.ordering.lstrip("-")
        column = ids.orderings[name]
        beyond = operator.lt if descending else operator.gt
        tie_breaker = ids.tie_breaker
        if name not in NULLABLE_ORDERINGS:
            return beyond(tuple_(column, tie_breaker), (cursor.value, cursor.id))
        nulls_last = (session.get_bind().dialect.name == "postgresql") != descending
        if cursor.value is None:
            among_nulls = and_(column.is_(None), beyond(tie_breaker, cursor.id))
            return among_nulls if nulls_last else or_(column.is_not(None), among_nulls)
        # A NULL sort value makes the row comparison NULL (false): those rows are added back
        # where the database puts them.
        after_value = beyond(tuple_(column, tie_breaker), (cursor.value, cursor.id))
        return or_(after_value, column.is_(None)) if nulls_last else after_value

    def _ids_at(self, ids: IdQuery, page: CapturePage, count: int) -> list[int] | Select[Any]:
        """The query of one page of ids, read from whichever end of the order is nearer.

        OFFSET has to step over every skipped entry of the index, so the last page of 100,000
        captures would walk all of them; from the other end (the order reversed) no page is
        more than half the list away.
        """
        if page.offset >= count or page.limit == 0:
            return []
        from_end = count - page.offset - page.limit  # entries after the page
        if from_end >= page.offset:
            return self.ordered_ids(ids).limit(page.limit).offset(page.offset)
        limit = page.limit + min(from_end, 0)  # the last page may be short
        return self.ordered_ids(ids, reverse=True).limit(limit).offset(max(from_end, 0))

    def page_rows(
        self, session: Session, *, project_id: int, capture_count: int, page: CapturePage
    ) -> RowsPage:
        """One page of capture rows (with ``configuration_uuid``) in order, its count, and
        whether (and after which cursor) another page follows."""
        ids = self.ids(project_id, session)
        page_ids = self.page_of_ids(session, ids, page, capture_count)
        if isinstance(page_ids.ids, list):
            rows_query = with_configuration().where(id_among(Capture.id, page_ids.ids, session))
        else:  # the page's ids as a subquery: ids and rows in one statement
            chosen = page_ids.ids.subquery()
            rows_query = with_configuration().join(chosen, chosen.c.id == Capture.id)
        rows = list(session.connection().execute(self.ordered(rows_query)).all())
        more = page_ids.more
        if more is None:  # one row more than the page was read, if there was one
            more = len(rows) > page.limit
            rows = rows[: page.limit]
        next_cursor = None
        if more and rows:
            last = rows[-1]
            next_cursor = Cursor(self.ordering, getattr(last, self.ordering.lstrip("-")), last.id)
        return RowsPage(rows, page_ids.count, more, next_cursor)

    def rows(self, project_id: int, session: Session) -> Select[Any]:
        """The query of every matching capture row (with ``configuration_uuid``), in order."""
        return self.ordered(self.filtered(with_configuration(), project_id, session))


def with_configuration() -> Select[Any]:
    """Capture rows with their configuration's uuid as ``configuration_uuid``: plain Core
    rows (no ORM objects), several times cheaper to load; run on ``session.connection()``."""
    captures = Capture.__table__
    configurations = CaptureConfiguration.__table__
    return select(*captures.columns, configurations.c.uuid.label("configuration_uuid")).outerjoin(
        configurations, configurations.c.id == captures.c.capture_configuration_id
    )


def capture_row(session: Session, *, project_id: int, capture_uuid: str) -> Row[Any] | None:
    """The project's capture ``capture_uuid`` as a row of :func:`with_configuration`, or None:
    one statement, as the list reads its rows."""
    parameters = {"capture_uuid": capture_uuid, "project_id": project_id}
    return session.connection().execute(_CAPTURE_ROW, parameters).first()


def _capture_row_statement() -> Select[Any]:
    return with_configuration().where(
        Capture.uuid == bindparam("capture_uuid"), Capture.project_id == bindparam("project_id")
    )


# Built once (a statement remembers its cache key; building it and the key anew took
# longer than the query), as the caller's statements are (auth/service.py).
_CAPTURE_ROW = _capture_row_statement()


def _task_states(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    wanted = tuple(state.strip().upper() for state in raw.split(",") if state.strip())
    unknown = sorted(set(wanted) - set(TASK_STATES))
    if unknown:
        raise BadRequest(
            f"Unknown task_state {', '.join(unknown)}; use one of {', '.join(TASK_STATES)}."
        )
    return wanted


def _format(raw: str | None) -> str | None:
    if not raw:
        return None
    file_format = file_formats.by_suffix(raw)
    if file_format is None:
        shown = raw.lower() if raw.startswith(".") else f".{raw.lower()}"
        raise BadRequest(f"Unknown format {shown!r}; use {file_formats.suffixes_text()}.")
    return file_format.suffix


def _ordering(raw: str | None) -> str:
    ordering = raw or DEFAULT_ORDERING
    if ordering.lstrip("-") not in ORDERINGS:
        raise BadRequest(
            f"Cannot order by {ordering!r}; use one of {', '.join(ORDERINGS)} (prefix - for "
            "descending)."
        )
    return ordering


# The schemas the OpenAPI document shows: the values the checks above accept. The parameters
# are read as text and checked here, so a bad value is a 400 that says what to send.
_TEXT = WithJsonSchema({"type": "string"})
_TASK_STATES = WithJsonSchema({"type": "array", "items": {"type": "string", "enum": TASK_STATES}})
_FORMATS = WithJsonSchema({"type": "string", "enum": list(file_formats.suffixes())})
_ORDERINGS = WithJsonSchema(
    {
        "type": "string",
        "enum": [name for column in ORDERINGS for name in (column, f"-{column}")],
    }
)


# ``async``: it only reads the request, and FastAPI would run a plain ``def`` in a worker
# thread, a hop that costs more than the work (see ``context_dependency``, server/context.py).
async def capture_list_query(
    request: Request,
    name: Annotated[
        str | None, _TEXT, Query(description="Only the capture with exactly this name.")
    ] = None,
    name__contains: Annotated[
        str | None,
        _TEXT,
        Query(description="Only captures whose name contains this text, ignoring case."),
    ] = None,
    task_state: Annotated[
        str | None,
        _TASK_STATES,
        Query(
            description="Only captures in one of these processing states (comma-separated; "
            "case is ignored)."
        ),
    ] = None,
    format: Annotated[
        str | None,
        _FORMATS,
        Query(
            description="Only captures of this file format (the dot is optional; case is ignored)."
        ),
    ] = None,
    ordering: Annotated[
        str,
        _ORDERINGS,
        Query(description="Sort key; a leading `-` sorts in descending order."),
    ] = DEFAULT_ORDERING,
) -> CaptureListQuery:
    return CaptureListQuery.parse(
        name=name,
        name_contains=name__contains,
        task_state=task_state,
        format=format,
        ordering=ordering,
        metadata=metadata_filters.parse_filters(request.query_params),
    )


CaptureList = Annotated[CaptureListQuery, Depends(capture_list_query)]


def metadata_filters_description() -> str:
    """The route's description of the metadata filters, which OpenAPI cannot list."""
    prefix = metadata_filters.PREFIX
    operators = ", ".join(f"`__{op}`" for op in metadata_filters.OPERATORS)
    return (
        "Metadata filters, which OpenAPI cannot list (their names contain the project's "
        f"metadata keys): `{prefix}<key>=<value>` (equality), and `{prefix}<key>__<op>=...` "
        f"with `<op>` one of {operators}: `__in` takes comma-separated values, `__gt`, "
        "`__gte`, `__lt` and `__lte` a number (integer and float keys only), `__exists` "
        "`true` or `false`. On integer and float keys equality compares numbers. Every filter "
        "ANDs with the others and with the parameters above. An unknown key, a range on a "
        "string key or a value of the wrong type is a 400 that says so. See docs/api.md, "
        '"Capture list filters".'
    )
