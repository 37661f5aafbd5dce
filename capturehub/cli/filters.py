"""``--where`` conditions on capture metadata, turned into the server's list filters.

- ``Subject=S01``: Subject is S01 (``metadata.Subject=S01``);
- ``Subject=S01,S02``: Subject is one of them (``metadata.Subject__in=S01,S02``);
- ``Age>=30``, ``Age>30``, ``Age<=40``, ``Age<40``: numeric keys (``__gte``, ``__gt``…);
- ``Side``: has a value for Side (``metadata.Side__exists=true``);
- ``!Side``: has none (``metadata.Side__exists=false``).

Several ``--where`` AND together (docs/api.md, "Capture list filters"); the SDK's
``Captures.query`` sends them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from capturehub.datamanager.capture import Capture
    from capturehub.datamanager.captures import Captures

F = TypeVar("F", bound=Callable[..., Any])

_CONDITION = re.compile(r"^(?P<key>[^<>=!]+?)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>.*)$")
_RANGES = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}

WHERE_HELP = (
    "Metadata condition, repeatable (all must hold): KEY=VALUE, KEY=V1,V2 (one of), "
    "KEY>=N, KEY>N, KEY<=N, KEY<N (numeric keys), KEY (has a value), !KEY (has none)."
)


def where_options(function: F) -> F:
    """``--where`` and ``--state``: which captures a command acts on."""
    function = click.option(
        "--state",
        type=click.Choice(["SENT", "STARTED", "SUCCESS", "FAILURE"], case_sensitive=False),
        help="Only captures in this processing state.",
    )(function)
    return click.option(
        "--where", "-w", "where", multiple=True, metavar="CONDITION", help=WHERE_HELP
    )(function)


def parse_condition(text: str) -> tuple[str, str]:
    """One ``--where`` condition as a ``(query parameter, value)`` pair."""
    stripped = text.strip()
    match = _CONDITION.match(stripped)
    if match is None:
        key = stripped[1:].strip() if stripped.startswith("!") else stripped
        if not key or any(char in key for char in "<>="):
            raise click.BadParameter(
                f"{text!r} is not a condition; use KEY=VALUE, KEY=V1,V2, KEY>=N, KEY or !KEY",
                param_hint="--where",
            )
        exists = "false" if stripped.startswith("!") else "true"
        return f"metadata.{key}__exists", exists
    key, op, value = match["key"].strip(), match["op"], match["value"].strip()
    if op == "!=":
        raise click.BadParameter(
            f"{text!r}: the server has no not-equal filter; list the values wanted with KEY=V1,V2",
            param_hint="--where",
        )
    if op in _RANGES:
        if not value:
            raise click.BadParameter(f"{text!r}: {op} needs a number", param_hint="--where")
        return f"metadata.{key}__{_RANGES[op]}", value
    if "," in value:
        values = [item.strip() for item in value.split(",")]
        return f"metadata.{key}__in", ",".join(values)
    return f"metadata.{key}", value


def query_params(where: Sequence[str], state: str | None) -> dict[str, str]:
    """The capture list's query parameters for ``--where`` and ``--state``."""
    params: dict[str, str] = {}
    for text in where:
        name, value = parse_condition(text)
        if name in params:
            raise click.BadParameter(
                f"{text!r} repeats a condition on the same key; give the values wanted at "
                "once (KEY=V1,V2) or a range (KEY>=N with KEY<M)",
                param_hint="--where",
            )
        params[name] = value
    if state:
        params["task_state"] = state.upper()
    return params


def matching_captures(captures: Captures, params: Mapping[str, str]) -> list[Capture]:
    """The captures of ``captures`` that match the query parameters (one paged listing)."""
    return list(captures.query(dict(params)))
