"""Finding captures by metadata: the capture list's ``metadata.*`` filters and the query route.

Syntax (documented in docs/api.md, "Capture list filters"): ``metadata.<key>=<value>``,
``metadata.<key>__in=<v1>,<v2>``, ``metadata.<key>__gt|gte|lt|lte=<number>`` (integer and float
keys), ``metadata.<key>__exists=true|false``. Several filters AND together, and with the
capture list's other filters. Equality on an integer or float key compares numbers (``30``
matches ``30.0``).

Each filter is one ``capture.id IN (subquery)`` (or ``EXISTS``/``NOT EXISTS``) whose subquery
walks the indexes: the key by (project, name), its values by (label, value) or (label, number),
the captures by (label, label_value, created_at, capture). A paged list in the default order
whose filters are all metadata filters skips ``capture`` altogether (:func:`ordered_ids`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, exists, false, or_, select
from sqlalchemy.orm import Session, aliased
from starlette.datastructures import QueryParams

from capturehub.server.errors import BadRequest
from capturehub.server.labels.values import NUMERIC_TYPES, parse_number
from capturehub.server.models import Capture, CaptureMetadataValue, Label, LabelValue

PREFIX = "metadata."
OPERATORS = ("in", "gt", "gte", "lt", "lte", "exists")
RANGES = {"gt", "gte", "lt", "lte"}


@dataclass(frozen=True)
class MetadataFilter:
    key: str
    operator: str  # "eq" or one of OPERATORS
    raw: str

    @property
    def parameter(self) -> str:
        suffix = "" if self.operator == "eq" else f"__{self.operator}"
        return f"{PREFIX}{self.key}{suffix}"


def parse_filters(params: QueryParams) -> list[MetadataFilter]:
    found = []
    for name, raw in params.multi_items():
        if not name.startswith(PREFIX):
            continue
        key, operator = name[len(PREFIX) :], "eq"
        head, separator, tail = key.rpartition("__")
        if separator and tail in OPERATORS:
            key, operator = head, tail
        if not key:
            raise BadRequest(
                f"The filter {name!r} names no metadata key; write metadata.<key>=<value>."
            )
        found.append(MetadataFilter(key=key, operator=operator, raw=raw))
    return found


def _label_id(project_id: int, key: str) -> ScalarSelect[int]:
    return (
        select(Label.id)
        .where(Label.project_id == project_id, Label.name == key, Label.is_metadata.is_(True))
        .scalar_subquery()
    )


def _as_number(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


def _value_matches(
    item: MetadataFilter, label: Label | None, raws: list[str]
) -> ColumnElement[bool]:
    """The condition on ``label_value`` for equality or ``in``.

    With the key known (``label``), strings compare as text and numbers as numbers. Without it
    (no session to look it up), either may match: a string key's values have no number.
    """
    if label is not None and label.type in NUMERIC_TYPES:
        numbers = [
            parse_number(raw, label.type, label_name=label.name, field=item.parameter)
            for raw in raws
        ]
        return LabelValue.number.in_(numbers)
    if label is not None:
        return LabelValue.value.in_(raws)
    numbers = [number for raw in raws if (number := _as_number(raw)) is not None]
    return or_(LabelValue.value.in_(raws), LabelValue.number.in_(numbers))


def _range(item: MetadataFilter, label: Label | None) -> ColumnElement[bool]:
    if label is not None:
        bound = parse_number(item.raw, label.type, label_name=label.name, field=item.parameter)
    else:
        number = _as_number(item.raw)
        if number is None:
            raise BadRequest(f"{item.parameter} needs a number, not {item.raw!r}.")
        bound = number
    column = LabelValue.number
    operations = {
        "gt": column > bound,
        "gte": column >= bound,
        "lt": column < bound,
        "lte": column <= bound,
    }
    return operations[item.operator]


# A filter whose key is known matches at most this many of its values by listing their ids in
# the capture query (no join with label_value); beyond that, the join.
MAX_LISTED_VALUES = 1000

# Which of a key's values a filter accepts: their ids; or, when they are too many to list or
# the key was not looked up, the condition on ``label_value``; or None for any value (exists).
Values = list[int] | ColumnElement[bool] | None


def _accepted_values(item: MetadataFilter, label: Label | None, session: Session | None) -> Values:
    if item.operator == "exists":
        return None
    if item.operator in RANGES:
        value_condition = _range(item, label)
    else:
        raws = [item.raw]
        if item.operator == "in":
            raws = [part.strip() for part in item.raw.split(",") if part.strip()]
        value_condition = _value_matches(item, label, raws)
    if label is not None and session is not None:
        value_ids = _listed_values(session, label, value_condition)
        if value_ids is not None:
            return value_ids
    return value_condition


def _wants_key(item: MetadataFilter) -> bool:
    """For ``__exists``: whether the capture must have the key (true) or must not (false)."""
    wanted = item.raw.strip().lower()
    if wanted not in ("true", "1", "yes", "false", "0", "no"):
        raise BadRequest(f"{item.parameter} must be true or false, not {item.raw!r}.")
    return wanted in ("true", "1", "yes")


def _holds(rows: Any, label_id: Any, values: Values) -> ColumnElement[bool]:
    """The condition on metadata ``rows`` (the table or an alias of it): their key is
    ``label_id`` and their value one of ``values``."""
    held = rows.label_id == label_id
    if isinstance(values, list):
        return and_(held, rows.label_value_id.in_(values))
    if values is not None:
        accepted = select(LabelValue.id).where(LabelValue.label_id == label_id, values)
        return and_(held, rows.label_value_id.in_(accepted))
    return held


def condition(
    item: MetadataFilter,
    project_id: int,
    label: Label | None = None,
    session: Session | None = None,
    capture_id: Any = Capture.id,
) -> ColumnElement[bool]:
    """The WHERE clause for one filter on the captures whose id is ``capture_id`` (``label``:
    the key, when looked up; ``session``: to look up the matching values first, which makes
    the capture query lighter).
    """
    label_id: Any = label.id if label is not None else _label_id(project_id, item.key)
    if item.operator == "exists":
        has_key = exists().where(
            CaptureMetadataValue.capture_id == capture_id,
            _holds(CaptureMetadataValue, label_id, None),
        )
        return has_key if _wants_key(item) else ~has_key
    values = _accepted_values(item, label, session)
    if isinstance(values, list) and not values:
        return false()
    held = _holds(CaptureMetadataValue, label_id, values)
    if item.operator in RANGES:
        # A range often matches most captures: probing each candidate capture's value through
        # the unique (capture, key) index beats building the list of every match, which an
        # IN (...) would do before the first row could be returned or counted.
        return exists().where(CaptureMetadataValue.capture_id == capture_id, held)
    # The matching values by (label, value) or (label, number), then their captures by the
    # (label, label_value, ...) index.
    return capture_id.in_(select(CaptureMetadataValue.capture_id).where(held))


def _listed_values(
    session: Session, label: Label, value_condition: ColumnElement[bool]
) -> list[int] | None:
    """The ids of the key's values that match, or None when there are too many to list."""
    ids = session.scalars(
        select(LabelValue.id)
        .where(LabelValue.label_id == label.id, value_condition)
        .limit(MAX_LISTED_VALUES + 1)
    ).all()
    return list(ids) if len(ids) <= MAX_LISTED_VALUES else None


def metadata_keys(session: Session, project_id: int, keys: set[str]) -> dict[str, Label]:
    """The project's metadata keys among ``keys``; a 400 naming any that does not exist."""
    labels = {
        label.name: label
        for label in session.scalars(
            select(Label).where(
                Label.project_id == project_id,
                Label.is_metadata.is_(True),
                Label.name.in_(sorted(keys)),
            )
        )
    }
    unknown = sorted(keys - set(labels))
    if unknown:
        known = session.scalars(
            select(Label.name)
            .where(Label.project_id == project_id, Label.is_metadata.is_(True))
            .order_by(Label.name)
            .limit(50)
        ).all()
        raise BadRequest(
            f"Unknown metadata key {', '.join(repr(key) for key in unknown)}; this project's "
            f"metadata keys are: {', '.join(known) or 'none yet'}.",
            data={"metadata": [f"unknown key {key!r}" for key in unknown]},
        )
    return labels


def check_range(item: MetadataFilter, label: Label) -> None:
    if item.operator in RANGES and label.type not in NUMERIC_TYPES:
        raise BadRequest(
            f"{item.parameter}: range filters need an integer or float key, and "
            f"{label.name!r} holds {label.type}s; use equality or __in."
        )


def _looked_up(
    items: Sequence[MetadataFilter], project_id: int, session: Session
) -> dict[str, Label]:
    """The filters' keys: a 400 for an unknown key or a range on a string key."""
    labels = metadata_keys(session, project_id, {item.key for item in items}) if items else {}
    for item in items:
        check_range(item, labels[item.key])
    return labels


def apply_metadata_filters(
    query: Select[Any],
    items: Sequence[MetadataFilter],
    project_id: int,
    session: Session | None = None,
) -> Select[Any]:
    """``query`` (of ``capture``) narrowed by the metadata filters ``items``.

    With a ``session``, keys are looked up first: an unknown key or a range on a string key is a
    400 that says so. Without one, the same filters run on key names alone (an unknown key then
    matches nothing).
    """
    labels = _looked_up(items, project_id, session) if session is not None else {}
    for item in items:
        query = query.where(condition(item, project_id, labels.get(item.key), session))
    return query


# The order in which filters are preferred to lead the search: one value usually matches fewer
# captures than several, several fewer than a range, and a range fewer than "has the key".
LEAD_PREFERENCE = {"eq": 0, "in": 1, "gt": 2, "gte": 2, "lt": 2, "lte": 2, "exists": 3}


@dataclass(frozen=True)
class IndexedIds:
    """Matching capture ids read from the metadata index: ``query`` selects them as ``id``,
    ordered by ``created_at`` then ``capture_id`` (columns of the index)."""

    query: Select[Any]
    created_at: Any
    capture_id: Any


def ordered_ids(
    items: Sequence[MetadataFilter], project_id: int, session: Session
) -> IndexedIds | None:
    """For a capture list whose only filters are metadata filters, in the default order.

    The captures that match are read from ``capture_metadata_value`` alone: one filter leads,
    walking its key's index (key, value, created_at, capture), which is already in list order
    when it accepts one value (else the database sorts its matches). Each other filter is
    checked for the same capture: a range or ``__exists`` by probing the capture's row for
    its key through the unique (capture, key) index, equality or ``__in`` by membership in
    that value's captures. ``capture`` is not visited until the page's rows are loaded.
    None when no filter can lead (only ``__exists=false``).
    """
    labels = _looked_up(items, project_id, session)
    leaders = [item for item in items if item.operator != "exists" or _wants_key(item)]
    if not leaders:
        return None
    lead = min(leaders, key=lambda item: LEAD_PREFERENCE[item.operator])
    rows = aliased(CaptureMetadataValue)
    values = _accepted_values(lead, labels[lead.key], session)
    if isinstance(values, list) and not values:
        query = select(rows.capture_id.label("id")).where(false())
    else:
        query = select(rows.capture_id.label("id")).where(_holds(rows, labels[lead.key].id, values))
    for item in items:
        if item is not lead:
            label = labels[item.key]
            query = query.where(condition(item, project_id, label, session, rows.capture_id))
    return IndexedIds(query, created_at=rows.capture_created_at, capture_id=rows.capture_id)
