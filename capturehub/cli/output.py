"""Printing results: a rich table for people, JSON or CSV for programs.

Tables and progress go through rich; ``--json`` and ``--csv`` write plain text to stdout, so
``capturehub ls --json | jq`` and ``capturehub ls --csv > captures.csv`` work.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "json", "csv")


def format_options(function: F) -> F:
    """``--json`` / ``--csv``: machine-readable output instead of the table."""
    function = click.option(
        "--csv", "output", flag_value="csv", help="Print CSV (a header row, one row per item)."
    )(function)
    return click.option(
        "--json", "output", flag_value="json", help="Print a JSON array (one object per item)."
    )(function)


def stdout_console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def stderr_console() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def plain(value: Any) -> Any:
    """A JSON-friendly version of a cell (timestamps as ISO text, NaN as null)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return plain(value.item())  # numpy scalars
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def emit(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    output: str | None,
    title: str | None = None,
    json_rows: Iterable[dict[str, Any]] | None = None,
) -> None:
    """Print ``rows`` as a table (default), JSON or CSV.

    ``json_rows`` lets JSON carry more than the table shows (the full server objects).
    """
    if output == "json":
        items = list(json_rows) if json_rows is not None else rows
        click.echo(json.dumps([{k: plain(v) for k, v in row.items()} for row in items], indent=2))
        return
    if output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row.get(column)) for column in columns])
        return
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for index, column in enumerate(columns):
        table.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        table.add_row(*(cell(row.get(column)) for column in columns))
    console = stdout_console()
    if not console.is_terminal:  # a file or a pipe: the whole table, however wide
        natural = Measurement.get(console, console.options.update_width(100_000), table)
        console.width = max(80, natural.maximum)
    console.print(table)


def human_size(size: float | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover - the loop always returns
