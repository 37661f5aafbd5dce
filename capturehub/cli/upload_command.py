"""``capturehub upload``: files and folders into a project, resumable, with progress."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from capturehub.cli.output import stderr_console, stdout_console
from capturehub.cli.progress import STAGES, CountProgress, StageProgress, TransferProgress
from capturehub.cli.session import (
    open_client,
    project_option,
    quiet_option,
    server_option,
    workers_option,
)
from capturehub.cli.uploading import (
    Uploader,
    UploadReport,
    await_processing,
    collect_files,
)
from capturehub.client import Client
from capturehub.datamanager.dataset import ImportEvent, ImportReport, read_manifest
from capturehub.datamanager.project import Project


@click.command()
@server_option
@project_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A manifest (watch-style JSON list, or SensiML DCLI JSON) giving each file's "
    "metadata, segments and sample rate.",
)
@workers_option("Files uploaded at once.")
@click.option("--sample-rate", type=float, metavar="HZ", help="Sample rate of every file.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the server to process the files.")
@quiet_option
def upload(
    server: str | None,
    project: str,
    paths: tuple[Path, ...],
    manifest: Path | None,
    workers: int,
    sample_rate: float | None,
    no_wait: bool,
    quiet: bool,
) -> None:
    """Upload recordings (.csv, .wav) into a project, creating it when missing.

    \b
    PATHS are files and folders; folders are searched recursively (hidden ones skipped).
    A capture is named after its file (watch/captures/S01_0_ABD_007.csv becomes
    "S01_0_ABD_007.csv"); two files of one name are refused before anything is sent.
    Resumable: a capture of the same name and content (sha256) is skipped, so running the
    command again after an interruption uploads only what is missing. A name whose content
    differs is reported as a conflict and left alone. Then waits until the server has
    processed every file (unless --no-wait) and prints a summary; the exit code is 1 when
    any file failed or conflicted.
    Examples:
      capturehub upload recordings/ --project "gait study"
      capturehub upload a.csv b.wav --project demo --sample-rate 100
      capturehub upload ../shared/data/watch --project watch \\
          --manifest ../shared/data/watch/manifest.json
    """
    files = collect_files(paths)
    info = {"set_sample_rate": sample_rate} if sample_rate else None
    imported: ImportReport | None = None
    with open_client(server) as client:
        captures = select_project(client, project).captures
        if manifest is not None:
            if no_wait:
                stderr_console().print(
                    "--no-wait is ignored with --manifest: segments are added once the "
                    "server has processed the files."
                )
            imported = import_manifest(client, manifest, paths, workers=workers, quiet=quiet)
            listed = set(imported.uploaded) | set(imported.skipped) | set(imported.failed)
            files = [local for local in files if local.name not in listed]
        report = UploadReport()
        if files:
            bar = TransferProgress(
                "Uploading", files=len(files), total_bytes=sum(f.size for f in files), quiet=quiet
            )
            client.connection.progress = bar.report
            with bar:
                report = Uploader(
                    captures,
                    workers=workers,
                    capture_info=info,
                    on_file_done=lambda local: bar.file_done(local.path, local.size),
                ).upload(files)
        if not (no_wait or report.interrupted) and report.outcomes:
            waiting = sum(1 for o in report.outcomes if o.capture is not None and not o.failed)
            with CountProgress("Processing", total=waiting, quiet=quiet) as processing:
                await_processing(
                    captures, report, on_progress=lambda count, _: processing.update(count)
                )
    failures = [(o.file.name, o.message) for o in report.failures]
    uploaded, skipped = report.count("uploaded"), report.count("skipped")
    if imported is not None:
        failures = list(imported.failed.items()) + failures
        uploaded += len(imported.uploaded)
        skipped += len(imported.skipped)
        stdout_console().print(
            f"Manifest {escape(str(manifest))}: {imported.metadata_set} metadata values set, "
            f"{imported.segments_added} segments added."
        )
    print_summary(
        uploaded=uploaded,
        skipped=skipped,
        failures=failures,
        interrupted=report.interrupted,
        processing=no_wait and manifest is None and bool(report.count("uploaded")),
    )
    if report.interrupted:
        raise click.exceptions.Exit(130)
    if failures:
        raise click.exceptions.Exit(1)


def select_project(client: Client, name: str) -> Project:
    """The project named ``name``, created (and said so) when missing."""
    project = client.projects.get_project_by_name(name)
    if project is None:
        project = client.projects.get_or_create(name)
        stderr_console().print(f"Created project {name!r}.")
    client.project = project
    return project


def import_manifest(
    client: Client, manifest: Path, paths: tuple[Path, ...], *, workers: int, quiet: bool
) -> ImportReport:
    """Import the manifest into the client's project with the SDK (uploads, metadata,
    segments), showing the bytes uploaded, then each later stage."""
    data_dir = manifest_data_dir(manifest, paths)
    _, entries, _ = read_manifest(manifest, data_dir)
    sizes = {entry.name: (entry.path, _size(entry.path)) for entry in entries}
    bar = TransferProgress(
        "Uploading",
        files=len(entries),
        total_bytes=sum(size for _, size in sizes.values()),
        quiet=quiet,
    )
    stages = StageProgress(quiet=quiet)

    def on_event(event: ImportEvent) -> None:
        if event.stage == "upload":
            if event.name in sizes:
                bar.file_done(*sizes[event.name])
        elif event.stage in STAGES:  # the stages after the uploads
            bar.stop()
            stages.update(event.stage, event.done, event.total)

    client.connection.progress = bar.report
    try:
        with bar:
            return client.project.captures.import_dataset(
                manifest, data_dir=data_dir, workers=workers, progress=on_event
            )
    finally:
        stages.stop()
        client.connection.progress = None


def manifest_data_dir(manifest: Path, paths: tuple[Path, ...]) -> Path | None:
    """Where the manifest's files are: its own folder (None) when they are all there, else
    the first folder among PATHS that holds them all (else its own folder: the import
    reports the missing files)."""
    for candidate in (None, *(path for path in paths if path.is_dir())):
        _, entries, _ = read_manifest(manifest, candidate)
        if all(entry.path.is_file() for entry in entries):
            return candidate
    return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def print_summary(
    *,
    uploaded: int,
    skipped: int,
    failures: list[tuple[str, str]],
    interrupted: bool,
    processing: bool,
) -> None:
    console = stdout_console()
    line = f"{uploaded} uploaded, {skipped} already there"
    if failures:
        line += f", {len(failures)} failed"
    console.print(line + ".")
    for name, message in failures:
        console.print(f"  [red]failed[/red] {escape(name)}: {escape(message)}")
    if interrupted:
        console.print("Interrupted: run the same command again to upload the rest.")
    elif processing:
        console.print(
            "The server processes the files in the background; "
            "`capturehub ls --state FAILURE` lists any that fail."
        )
