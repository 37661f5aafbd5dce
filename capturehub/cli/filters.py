"""``--where`` and ``--state``: which captures a command acts on.

A ``--where`` condition is the text form of the SDK's metadata filters
(``capturehub.datamanager.query``: ``Subject=S01``, ``Subject=S01,S02``, ``Age>=30``, ``Side``,
``!Side``); several AND together (docs/api.md, "Capture list filters"). The SDK parses them
and ``Captures.query`` sends them: this module only adds the options and their errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from capturehub.datamanager.query import metadata_conditions

if TYPE_CHECKING:
    from capturehub.datamanager.capture import Capture
    from capturehub.datamanager.captures import Captures

F = TypeVar("F", bound=Callable[..., Any])

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


def where_filters(where: Sequence[str], state: str | None) -> dict[str, Any]:
    """``--where`` and ``--state`` as the SDK's query filters (``Captures.query``)."""
    try:
        filters = metadata_conditions(where)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--where") from exc
    if state:
        filters["task_state"] = state.upper()
    return filters


def matching_captures(captures: Captures, filters: Mapping[str, Any]) -> list[Capture]:
    """The captures of ``captures`` that match the filters (one paged listing)."""
    return list(captures.query(dict(filters)))
