"""``capturehub ls``, ``download`` and ``stats``: reading a project's captures."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
from rich.markup import escape

from capturehub.cli.filters import matching_captures, where_filters, where_options
from capturehub.cli.output import emit, format_options, human_size, stderr_console, stdout_console
from capturehub.cli.progress import TransferProgress
from capturehub.cli.session import (
    find_project,
    open_client,
    project_option,
    quiet_option,
    server_option,
    workers_option,
)
from capturehub.datamanager._pool import transfer_pool
from capturehub.datamanager.capture import Capture
from capturehub.datamanager.resume import file_sha256, same_file
from capturehub.exceptions import CapturehubError

LS_COLUMNS = ["name", "state", "samples", "rate (Hz)", "size", "created (UTC)"]
# Figures of the statistics left out of its table (they stay in --json and --csv).
STATS_HIDDEN = ("capture_uuid", "calculated_sample_rate", "file_size")
CSV_COLUMNS = [
    "name",
    "uuid",
    "task_state",
    "number_samples",
    "set_sample_rate",
    "calculated_sample_rate",
    "file_size",
    "format",
    "sha256",
    "version",
    "created_at",
    "last_modified",
]
PARTIAL_DIR = ".capturehub-partial"


@click.command()
@server_option
@project_option
@where_options
@format_options
def ls(
    server: str | None, project: str, where: tuple[str, ...], state: str | None, output: str | None
) -> None:
    """List a project's captures, optionally those matching metadata conditions.

    \b
    Examples:
      capturehub ls --project watch
      capturehub ls --project watch --where Subject=S01 --where Side=1
      capturehub ls --project watch --where Subject=S01,S02 --state SUCCESS --json
      capturehub ls --project study --where "Age>=30" --where "Age<40" --csv > captures.csv
    """
    filters = where_filters(where, state)
    with open_client(server) as client:
        captures = matching_captures(find_project(client, project).captures, filters)
    if output == "json":
        emit([], [], output="json", json_rows=[capture.capture_info for capture in captures])
        return
    if output == "csv":
        emit([capture.capture_info for capture in captures], CSV_COLUMNS, output="csv")
        return
    rows = [
        {
            "name": capture.name,
            "state": capture.task_state,
            "samples": capture.number_samples,
            "rate (Hz)": capture.set_sample_rate or capture.calculated_sample_rate,
            "size": human_size(capture.file_size),
            "created (UTC)": f"{capture.created_at:%Y-%m-%d %H:%M}" if capture.created_at else "",
        }
        for capture in captures
    ]
    emit(rows, LS_COLUMNS, output=None, title=f"{len(rows)} captures in {project!r}")


def _already_there(path: Path, capture: Capture) -> bool:
    """The resume rule the other way: the file at ``path`` is the capture's already."""
    return path.is_file() and same_file(path, capture.capture_info)


@click.command()
@server_option
@project_option
@where_options
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to download into (created when missing).",
)
@workers_option("Files downloaded at once.")
@quiet_option
def download(
    server: str | None,
    project: str,
    where: tuple[str, ...],
    state: str | None,
    out: Path,
    workers: int,
    quiet: bool,
) -> None:
    """Download captures' original files, byte for byte.

    \b
    Each capture is written to OUT/<capture name> (with .csv/.wav appended when the name
    lacks it; / in a name becomes _), so `capturehub upload OUT` gives the same names back.
    Resumable: a file already there with the capture's size and sha256 is skipped; every
    file is checked against the server's sha256 after download. Exit code 1 when any file
    failed.
    Examples:
      capturehub download --project watch --out watch-copy/
      capturehub download --project watch --where Subject=S01 --out s01/
    """
    filters = where_filters(where, state)
    out.mkdir(parents=True, exist_ok=True)
    partial_root = out / PARTIAL_DIR
    with open_client(server) as client:
        captures = matching_captures(find_project(client, project).captures, filters)
        bar = TransferProgress(
            "Downloading",
            files=len(captures),
            total_bytes=sum(capture.file_size or 0 for capture in captures),
            quiet=quiet,
        )
        # Each capture downloads into its own folder: the progress is keyed by that folder.
        client.connection.progress = lambda path, done: bar.report(path.parent, done)

        def one(capture: Capture) -> tuple[str, str]:
            target = out / capture.download_name
            partial = partial_root / capture.uuid
            try:
                if _already_there(target, capture):
                    return "skipped", ""
                written = capture.download(partial)
                if file_sha256(written) != capture.capture_info.get("sha256"):
                    return "failed", "the file received does not match the server's sha256"
                target.parent.mkdir(parents=True, exist_ok=True)
                written.replace(target)
                return "downloaded", ""
            except CapturehubError as exc:
                return "failed", exc.detail
            except OSError as exc:
                return "failed", f"{exc.strerror or exc}: {exc.filename or target}"
            finally:
                shutil.rmtree(partial, ignore_errors=True)
                bar.file_done(partial, capture.file_size or 0)

        with bar, transfer_pool(workers) as pool:
            results = list(pool.map(one, captures))
    if partial_root.is_dir() and not any(partial_root.iterdir()):
        partial_root.rmdir()
    counts = {
        status: sum(1 for s, _ in results if s == status)
        for status in ("downloaded", "skipped", "failed")
    }
    console = stdout_console()
    console.print(
        f"{counts['downloaded']} downloaded, {counts['skipped']} already there"
        + (f", {counts['failed']} failed" if counts["failed"] else "")
        + f" (in {out})."
    )
    for capture, (status, message) in zip(captures, results, strict=True):
        if status == "failed":
            console.print(f"  [red]failed[/red] {escape(capture.name)}: {escape(message)}")
    if counts["failed"]:
        raise click.exceptions.Exit(1)


@click.command()
@server_option
@project_option
@format_options
def stats(server: str | None, project: str, output: str | None) -> None:
    """Show each capture's segment counts, metadata and figures.

    \b
    One row per capture: its number of segments, one column per label value (segments
    with that value), one per metadata key, then samples, rate, duration, size and state.
    Examples:
      capturehub stats --project watch
      capturehub stats --project watch --csv > stats.csv
    """
    with open_client(server) as client:
        frame, complete = find_project(client, project).captures.get_statistics()
    rows = [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]
    columns = [str(column) for column in frame.columns]
    if output is None:
        columns = [column for column in columns if column not in STATS_HIDDEN]
    emit(rows, columns, output=output, title=f"Statistics of {project!r}")
    if output is None and not complete:
        stderr_console().print("Some captures are still being processed; figures may change.")
