"""``capturehub export``: ``Project.export()`` (``datamanager/export.py``) with a progress
display and a summary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from capturehub.cli.filters import where_filters, where_options
from capturehub.cli.output import stderr_console, stdout_console
from capturehub.cli.progress import StageProgress
from capturehub.cli.session import (
    find_project,
    open_client,
    project_option,
    quiet_option,
    server_option,
    workers_option,
)
from capturehub.datamanager.export import FORMATS

F = TypeVar("F", bound=Callable[..., Any])


def export_options(command: F) -> F:
    """``--format`` and ``--out``, the same for a project's export and a version's."""
    command = click.option(
        "--out",
        "-o",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder to write (created when missing; files of an earlier export are replaced).",
    )(command)
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(FORMATS),
        default="parquet",
        show_default=True,
        help="File format of the samples and tables.",
    )(command)


@click.command()
@server_option
@project_option
@where_options
@export_options
@workers_option("Captures fetched at once.")
@quiet_option
def export(
    server: str | None,
    project: str,
    where: tuple[str, ...],
    state: str | None,
    fmt: str,
    out: Path,
    workers: int,
    quiet: bool,
) -> None:
    """Export samples, metadata and segments as files pandas, pyarrow or numpy load at once.

    \b
    Writes, in OUT:
      samples.parquet   capture, sample, <channels...> (one row per sample of each capture)
      metadata.parquet  capture, uuid, number_samples, sample_rate, <metadata keys...>
      segments.parquet  capture, label, value, start, end (sample indices, both included)
      README.md         the layout and the one-line load commands
    --format csv writes the same tables as .csv; --format npz writes samples/<file>.npz
    (one array per channel) per capture, with metadata.csv (its `file` column lists the
    .npz) and segments.csv. --format edge-impulse writes Edge Impulse's layout: an
    acquisition document per capture in training/, testing/ or anomaly/ and info.labels
    (docs/edge-impulse.md). Only processed captures (SUCCESS) are exported.
    The SDK does the same with client.project.export(OUT, format=..., where=...).
    Examples:
      capturehub export --project watch --format parquet --out watch-dataset/
      python -c "import pandas as pd; print(pd.read_parquet('watch-dataset/samples.parquet'))"
      capturehub export --project watch --where Subject=S01,S02 --format npz --out s01-s02/
      capturehub export --project gestures --format edge-impulse --out gestures-ei/
    """
    filters = where_filters(where, state)
    bar = StageProgress(quiet=quiet)
    with open_client(server) as client:
        try:
            report = find_project(client, project).export(
                out,
                format=fmt,
                where=filters,
                workers=workers,
                progress=lambda done, total: bar.update("Exporting", done, total),
            )
        finally:
            bar.stop()
    stdout_console().print(
        f"Exported {report.captures} captures ({report.segments} segments) to {out} as {fmt}; "
        f"see {report.readme}."
    )
    if report.left_out_segments:
        stderr_console().print(
            f"{report.left_out_segments} segments of labels other than 'Label' have no place "
            "in Edge Impulse's format and were left out."
        )
    if report.left_out:
        left_out = len(report.left_out)
        were = "capture was" if left_out == 1 else "captures were"
        stderr_console().print(
            f"{left_out} {were} left out, not processed yet or failed (see `capturehub ls "
            f"--project {project!r}`)."
        )
