"""The capture list's query parameters: filters and ordering.

``?name=`` exact name, ``?name__contains=`` substring (case-insensitive), ``?task_state=``
one state or a comma-separated list, ``?format=.csv``, ``?ordering=`` one of
:data:`ORDERINGS` (``-`` for descending; default ``created_at``); paging is server/listing.py's.
Metadata filters are added by the metadata feature through :data:`EXTRA_FILTERS`, and
:data:`ID_SOURCES` lets it answer a metadata-only query in the default order from its own
index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from capturehub.ingest import formats as file_formats
from capturehub.server.captures.schemas import TASK_STATES
from capturehub.server.errors import BadRequest
from capturehub.server.models import Capture

ORDERINGS = {
    "created_at": Capture.created_at,
    "last_modified": Capture.last_modified,
    "name": Capture.name,
    "file_size": Capture.file_size,
    "number_samples": Capture.number_samples,
}

# Hooks that narrow the capture query from more query parameters (e.g. metadata filters).
ExtraFilter = Callable[[Select[Any], QueryParams, int, Session], Select[Any]]
EXTRA_FILTERS: list[ExtraFilter] = []


@dataclass(frozen=True)
class IdQuery:
    """A query of the filtered captures' ids, and the columns that put it in the list's order
    (``orderings`` by name, and the tie-breaker)."""

    query: Select[Any]
    orderings: Mapping[str, Any] = field(default_factory=lambda: ORDERINGS)
    # A factory: a column as a plain default would act as a descriptor on the dataclass.
    tie_breaker: Any = field(default_factory=lambda: Capture.id)

    def ordered(self, params: QueryParams, reverse: bool = False) -> Select[Any]:
        return apply_ordering(self.query, params, reverse, self.orderings, self.tie_breaker)


# Hooks that can select the filtered ids in the list's default order from their own tables,
# without reading `capture` (the metadata filters do, from their index); each answers None
# for a query it cannot serve alone.
IdSource = Callable[[QueryParams, int, Session], IdQuery | None]
ID_SOURCES: list[IdSource] = []


def id_query(params: QueryParams, project_id: int, session: Session) -> IdQuery:
    """The ids of the captures the query asks for (all filters applied), to be paged."""
    if (params.get("ordering") or "created_at").lstrip("-") == "created_at":
        for source in ID_SOURCES:
            if (found := source(params, project_id, session)) is not None:
                return found
    return IdQuery(apply_filters(select(Capture.id), params, project_id, session))


FILTER_PARAMETERS = ("name", "name__contains", "task_state", "format")


def has_filters(params: QueryParams) -> bool:
    """Whether the query narrows the list (ordering and paging do not)."""
    return any(key in FILTER_PARAMETERS or key.startswith("metadata.") for key in params)


def apply_filters(
    query: Select[Any], params: QueryParams, project_id: int, session: Session
) -> Select[Any]:
    query = query.where(Capture.project_id == project_id)
    if (name := params.get("name")) is not None:
        query = query.where(Capture.name == name)
    if contains := params.get("name__contains"):
        escaped = contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # Case-insensitive on every database (SQLite's LIKE already is, for ASCII).
        query = query.where(Capture.name.ilike(f"%{escaped}%", escape="\\"))
    if states := params.get("task_state"):
        wanted = [state.strip().upper() for state in states.split(",") if state.strip()]
        unknown = sorted(set(wanted) - set(TASK_STATES))
        if unknown:
            raise BadRequest(
                f"Unknown task_state {', '.join(unknown)}; use one of {', '.join(TASK_STATES)}."
            )
        query = query.where(Capture.task_state.in_(wanted))
    if fmt := params.get("format"):
        file_format = file_formats.by_suffix(fmt)
        if file_format is None:
            shown = fmt.lower() if fmt.startswith(".") else f".{fmt.lower()}"
            raise BadRequest(f"Unknown format {shown!r}; use {file_formats.suffixes_text()}.")
        query = query.where(Capture.format == file_format.suffix)
    for extra in EXTRA_FILTERS:
        query = extra(query, params, project_id, session)
    return query


def apply_ordering(
    query: Select[Any],
    params: QueryParams,
    reverse: bool = False,
    orderings: Mapping[str, Any] = ORDERINGS,
    tie_breaker: Any = Capture.id,
) -> Select[Any]:
    """The ``ordering`` asked for (``reverse``: the exact opposite, for reading from the end),
    by default on ``capture``'s columns."""
    ordering = params.get("ordering") or "created_at"
    descending = ordering.startswith("-") != reverse
    if ordering.lstrip("-") not in ORDERINGS:
        raise BadRequest(
            f"Cannot order by {ordering!r}; use one of {', '.join(ORDERINGS)} (prefix - for "
            "descending)."
        )
    column = orderings[ordering.lstrip("-")]
    if descending:
        return query.order_by(column.desc(), tie_breaker.desc())
    return query.order_by(column, tie_breaker)
