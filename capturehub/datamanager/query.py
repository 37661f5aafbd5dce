"""``Captures.query()``: Python keyword filters → the capture list's query parameters.

::

    captures.query(Subject="S01")                    # ?metadata.Subject=S01
    captures.query(Subject__in=["S01", "S02"])       # ?metadata.Subject__in=S01,S02
    captures.query(Age__gte=30, Age__lt=40)          # a range (integer and float keys)
    captures.query(Side__exists=False)               # captures without a Side
    captures.query(name="walk 1", task_state="SUCCESS")
    captures.query({"Body part": "left"})            # keys that are not Python names

Every filter ANDs with the others (docs/api.md, "Capture list filters").

The same filters also have a text form, one condition per string, which ``capturehub``'s
``--where`` takes and an export's README writes: ``metadata_condition("Subject=S01,S02")``
answers ``("Subject__in", ["S01", "S02"])`` and ``condition_text`` turns it back::

    Subject=S01          Subject is S01                  Subject="S01"
    Subject=S01,S02      Subject is one of them          Subject__in=["S01", "S02"]
    Age>=30, Age>30,     a range (numeric keys)          Age__gte="30", Age__gt=…
    Age<=40, Age<40
    Side                 has a value for Side            Side__exists=True
    !Side                has none                        Side__exists=False
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# The capture list's own parameters; every other keyword names a metadata key.
CAPTURE_PARAMETERS = frozenset({"name", "name__contains", "task_state", "format", "ordering"})
OPERATORS = frozenset({"in", "gt", "gte", "lt", "lte", "exists"})
METADATA_PREFIX = "metadata."

_CONDITION = re.compile(r"^(?P<key>[^<>=!]+?)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>.*)$")
_RANGES = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}
_SIGNS = {operator: sign for sign, operator in _RANGES.items()}
CONDITION_SYNTAX = "KEY=VALUE, KEY=V1,V2, KEY>=N, KEY or !KEY"


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


# -- the text form of metadata conditions -----------------------------------------------------


def metadata_condition(text: str) -> tuple[str, Any]:
    """One condition in its text form (``Subject=S01,S02``, ``Age>=30``, ``!Side``…) as a
    ``(keyword, value)`` filter of ``query()``; ValueError saying what is wrong when it is not
    a condition. Values stay text: the server compares them by the key's type."""
    stripped = text.strip()
    match = _CONDITION.match(stripped)
    if match is None:
        key = stripped[1:].strip() if stripped.startswith("!") else stripped
        if not key or any(char in key for char in "<>="):
            raise ValueError(f"{text!r} is not a condition; use {CONDITION_SYNTAX}")
        return _keyword(key, "exists"), not stripped.startswith("!")
    key, sign, value = match["key"].strip(), match["op"], match["value"].strip()
    if sign == "!=":
        raise ValueError(
            f"{text!r}: the server has no not-equal filter; list the values wanted with KEY=V1,V2"
        )
    if sign in _RANGES:
        if not value:
            raise ValueError(f"{text!r}: {sign} needs a number")
        return _keyword(key, _RANGES[sign]), value
    if "," in value:
        return _keyword(key, "in"), [item.strip() for item in value.split(",")]
    return _keyword(key, "eq"), value


def metadata_conditions(texts: Sequence[str]) -> dict[str, Any]:
    """Several conditions in their text form (they AND together) as ``query()`` filters;
    ValueError for one that is not a condition, or two on the same key and operator."""
    filters: dict[str, Any] = {}
    for text in texts:
        keyword, value = metadata_condition(text)
        if keyword in filters:
            raise ValueError(
                f"{text!r} repeats a condition on the same key; give the values wanted at "
                "once (KEY=V1,V2) or a range (KEY>=N with KEY<M)"
            )
        filters[keyword] = value
    return filters


def condition_text(keyword: str, value: Any) -> str | None:
    """A metadata filter of ``query()`` in its text form (``("Subject__in", ["S01", "S02"])``
    → ``Subject=S01,S02``); None for a filter on the captures' own fields (``task_state``…)
    or one the text form cannot say."""
    if keyword in CAPTURE_PARAMETERS:
        return None
    name = keyword.removeprefix(METADATA_PREFIX)
    key, separator, operator = name.rpartition("__")
    if not separator or operator not in OPERATORS:
        key, operator = name, "eq"
    if operator == "exists":
        present = value if isinstance(value, bool) else str(value).lower() == "true"
        return key if present else f"!{key}"
    text = _operand(operator, value, keyword)
    if operator in _SIGNS:
        return f"{key}{_SIGNS[operator]}{text}"
    return f"{key}={text}"


def _keyword(key: str, operator: str) -> str:
    """The ``query()`` keyword for a metadata key and operator; written ``metadata.<key>``
    when the bare key would name one of the captures' own fields."""
    keyword = key if operator == "eq" else f"{key}__{operator}"
    if key in CAPTURE_PARAMETERS or key.startswith(METADATA_PREFIX):
        return METADATA_PREFIX + keyword
    return keyword
