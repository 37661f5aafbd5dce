"""The capture table: one page of a project's captures, filtered and sorted on the server by
the capture list's own query (captures/query.py), with the project's metadata as columns.

The table's parameters are the page's words: ``name`` (part of the name), ``state``, ``where``
(metadata filters ``key=value``, ``key>=number``, ``key<number``..., separated by ``;``),
``sort`` (a column, ``-`` for descending), ``page`` (from 1) and ``size``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from capturehub.server.auth.service import Caller
from capturehub.server.captures.paging import CapturePage
from capturehub.server.captures.query import ORDERINGS, CaptureListQuery
from capturehub.server.captures.schemas import TASK_STATES
from capturehub.server.db import id_among
from capturehub.server.errors import BadRequest
from capturehub.server.metadata.filters import MetadataFilter, parse_filters
from capturehub.server.models import CaptureMetadataValue, Label, LabelValue, Project
from capturehub.server.projects.service import get_project

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
PENDING_STATES = ("SENT", "STARTED")
# "key >= 30": the longest operators first, so ">=" is not read as ">".
_WHERE = re.compile(r"^\s*(?P<key>[^<>=]+?)\s*(?P<op>>=|<=|>|<|=)\s*(?P<value>.*?)\s*$")
_OPERATORS = {"=": "eq", ">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}


def parse_where(text: str) -> list[MetadataFilter]:
    """``Subject=S01; Age>=30`` as the capture list's metadata filters; a 400 in words else."""
    filters = []
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _WHERE.match(part)
        if match is None:
            raise BadRequest(
                f"Cannot read the metadata filter {part.strip()!r}: write key=value, or a range "
                "such as Age>=30 or Age<40, and separate several with ';'."
            )
        filters.append(
            MetadataFilter(key=match["key"], operator=_OPERATORS[match["op"]], raw=match["value"])
        )
    return filters


_SYMBOLS = {operator: symbol for symbol, operator in _OPERATORS.items()}


def version_where(params: TableParams) -> dict[str, str]:
    """The table's filter as a dataset version's ``where`` (the capture list's query
    parameters, versions/service.py): the version then holds exactly the captures the table
    lists, on all its pages. The one place where the table's words become the list's.

    A ``where`` holds each parameter once, so a filter that compares one key the same way
    twice with different values is refused in words rather than silently narrowed."""
    where: dict[str, str] = {}
    if params.name:
        where["name__contains"] = params.name
    if params.state:
        where["task_state"] = params.state
    for item in parse_where(params.where):
        parameter = item.parameter
        if parse_filters(QueryParams({parameter: item.raw})) != [item]:
            # A key such as "Size__in" would be read back as "Size" with the operator "in".
            raise BadRequest(
                f"The metadata key {item.key!r} ends like a filter operator, so a version "
                "cannot hold this filter; filter the captures through the API instead."
            )
        earlier = where.get(parameter)
        if earlier is not None and earlier != item.raw:
            symbol = _SYMBOLS[item.operator]
            raise BadRequest(
                f"The filter has {item.key}{symbol}{earlier} and {item.key}{symbol}{item.raw}; "
                "a version keeps one value per key and comparison: keep one of them."
            )
        where[parameter] = item.raw
    return where


@dataclass(frozen=True)
class TableParams:
    name: str = ""
    state: str = ""
    where: str = ""
    sort: str = "-created_at"
    page: int = 1
    size: int = DEFAULT_PAGE_SIZE

    @classmethod
    def of(cls, query: Any) -> TableParams:
        def number(key: str, default: int) -> int:
            try:
                return int(query.get(key) or default)
            except ValueError:
                return default

        sort = query.get("sort") or cls.sort
        if sort.lstrip("-") not in ORDERINGS:
            sort = cls.sort
        size = number("size", DEFAULT_PAGE_SIZE)
        return cls(
            name=(query.get("name") or "").strip(),
            state=(query.get("state") or "").upper() if query.get("state") in TASK_STATES else "",
            where=(query.get("where") or "").strip(),
            sort=sort,
            page=max(1, min(number("page", 1), 10**9)),
            size=size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE,
        )

    def query_string(self, **changes: Any) -> str:
        values = {
            "name": self.name,
            "state": self.state,
            "where": self.where,
            "sort": self.sort,
            "page": self.page,
            "size": self.size,
        }
        values.update(changes)
        defaults = TableParams()
        kept = {k: v for k, v in values.items() if v != getattr(defaults, k)}
        return "?" + urlencode(kept) if kept else ""

    def sort_by(self, column: str) -> str:
        """The query string that sorts by ``column`` (again: the other way round)."""
        descending = self.sort == column
        return self.query_string(sort=f"-{column}" if descending else column, page=1)

    def sorted_as(self, column: str) -> str:
        if self.sort == column:
            return "ascending"
        if self.sort == f"-{column}":
            return "descending"
        return "none"


@dataclass
class TableRow:
    capture: Any
    metadata: dict[int, str] = field(default_factory=dict)

    @property
    def channels(self) -> list[str]:
        return [name for name in (self.capture.schema or {}) if name != "sequence"]

    @property
    def rate(self) -> float | None:
        rate: float | None = self.capture.set_sample_rate or self.capture.calculated_sample_rate
        return rate


@dataclass
class CaptureTable:
    project: Project
    params: TableParams
    keys: list[Label]
    rows: list[TableRow]
    # None when a filter matches more captures than are counted (captures/paging.py): the
    # table then says "more than" ``at_least - 1`` and pages on without a last page.
    count: int | None
    error: str | None = None
    at_least: int = 0
    more: bool = False

    @property
    def count_text(self) -> str:
        if self.count is None:
            return f"More than {self.at_least - 1:,} captures"
        return f"{self.count:,} capture{'' if self.count == 1 else 's'}"

    @property
    def pages(self) -> int | None:
        """How many pages there are; None when the captures are not all counted."""
        if self.count is None:
            return None
        return max(1, -(-self.count // self.params.size))

    @property
    def pending(self) -> bool:
        return any(row.capture.task_state in PENDING_STATES for row in self.rows)


def metadata_keys(session: Session, project_id: int) -> list[Label]:
    return list(
        session.scalars(
            select(Label)
            .where(Label.project_id == project_id, Label.is_metadata.is_(True))
            .order_by(Label.created_at, Label.id)
        )
    )


def load_table(
    session: Session, caller: Caller, project_uuid: str, params: TableParams
) -> CaptureTable:
    """One page of the table; a filter the query refuses leaves the table empty, with the
    query's message to show."""
    project = get_project(session, caller, project_uuid)
    keys = metadata_keys(session, project.id)
    try:
        query = CaptureListQuery.parse(
            name_contains=params.name or None,
            task_state=params.state or None,
            ordering=params.sort,
            metadata=parse_where(params.where),
        )
        page = CapturePage(limit=params.size, offset=(params.page - 1) * params.size)
        found = query.page_rows(
            session, project_id=project.id, capture_count=project.capture_count, page=page
        )
    except BadRequest as exc:
        return CaptureTable(project, params, keys, [], 0, error=exc.message)
    rows = [TableRow(capture) for capture in found.rows]
    if rows and keys:
        by_id = {row.capture.id: row for row in rows}
        for capture_id, label_id, value in session.execute(
            select(CaptureMetadataValue.capture_id, CaptureMetadataValue.label_id, LabelValue.value)
            .join(LabelValue, LabelValue.id == CaptureMetadataValue.label_value_id)
            .where(id_among(CaptureMetadataValue.capture_id, list(by_id), session))
        ):
            by_id[capture_id].metadata[label_id] = value
    return CaptureTable(
        project,
        params,
        keys,
        rows,
        found.count.exact,
        at_least=found.count.at_least,
        more=found.more,
    )
