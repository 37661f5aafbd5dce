"""``Captures.query()``: Python keyword filters → the capture list's query parameters.

::

    captures.query(Subject="S01")                    # ?metadata.Subject=S01
    captures.query(Subject__in=["S01", "S02"])       # ?metadata.Subject__in=S01,S02
    captures.query(Age__gte=30, Age__lt=40)          # a range (integer and float keys)
    captures.query(Side__exists=False)               # captures without a Side
    captures.query(name="walk 1", task_state="SUCCESS")
    captures.query({"Body part": "left"})            # keys that are not Python names

Every filter ANDs with the others (docs/api.md, "Capture list filters").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The capture list's own parameters; every other keyword names a metadata key.
CAPTURE_PARAMETERS = frozenset({"name", "name__contains", "task_state", "format", "ordering"})
OPERATORS = frozenset({"in", "gt", "gte", "lt", "lte", "exists"})
METADATA_PREFIX = "metadata."


def query_parameters(filters: Mapping[str, Any]) -> dict[str, str]:
    """The query string of the capture list for these filters.

    ``name``, ``name__contains``, ``task_state`` (one state or a list), ``format`` and
    ``ordering`` go as they are; any other key is a metadata key, optionally with an
    operator suffix (``__in``, ``__gt``, ``__gte``, ``__lt``, ``__lte``, ``__exists``), or
    already written as ``metadata.<key>[__op]``.
    """
    params: dict[str, str] = {}
    for key, value in filters.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"filter names are non-empty strings, not {key!r}")
        if key in ("limit", "offset"):
            raise ValueError(f"{key} is not a filter: query() pages through the results itself")
        if key in CAPTURE_PARAMETERS:
            if key == "task_state" and _is_many(value):
                params[key] = ",".join(str(state) for state in value)
            else:
                params[key] = _text(value, key)
            continue
        name = key if key.startswith(METADATA_PREFIX) else METADATA_PREFIX + key
        head, separator, operator = name.rpartition("__")
        if not separator or operator not in OPERATORS or head == METADATA_PREFIX.rstrip("."):
            operator = "eq"
        params[name] = _operand(operator, value, key)
    return params


def _is_many(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, str | bytes)


def _text(value: Any, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"{key}: filter values are str, int or float, not {value!r}")
    return (
        value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    )


def _operand(operator: str, value: Any, key: str) -> str:
    if operator == "exists":
        if isinstance(value, bool):
            return "true" if value else "false"
        return _text(value, key)
    if operator == "in":
        if not _is_many(value):
            return _text(value, key)
        texts = [_text(item, key) for item in value]
        if not texts:
            raise ValueError(f"{key}: __in needs at least one value")
        if any("," in text for text in texts):
            raise ValueError(
                f"{key}: a value containing a comma cannot be used with __in; run one query "
                "per value with equality instead"
            )
        return ",".join(texts)
    return _text(value, key)
