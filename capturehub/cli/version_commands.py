"""``capturehub version create | ls | show | diff | export | delete``: dataset versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from capturehub.cli.errors import CliError
from capturehub.cli.export_command import export_options
from capturehub.cli.filters import where_filters, where_options
from capturehub.cli.output import emit, format_options, stderr_console, stdout_console
from capturehub.cli.progress import StageProgress
from capturehub.cli.session import (
    find_project,
    open_client,
    project_option,
    quiet_option,
    server_option,
    workers_option,
)
from capturehub.datamanager.versions import Version

VERSION_COLUMNS = ["name", "created (UTC)", "captures", "samples", "segments", "hash"]


@click.group()
def version() -> None:
    """Pin the captures a model is trained on as a named, immutable dataset version.

    \b
    Examples:
      capturehub version create v1 --project watch --where Subject=S01,S02
      capturehub version ls --project watch
      capturehub version show v1 --project watch
      capturehub version diff v1 v2 --project watch
      capturehub version export v1 --project watch --out v1-dataset/
      capturehub version delete v1 --project watch --yes
    """


def _row(found: Version) -> dict[str, Any]:
    return {
        "name": found.name,
        "created (UTC)": f"{found.created_at:%Y-%m-%d %H:%M}" if found.created_at else "",
        "captures": found.capture_count,
        "samples": found.sample_count,
        "segments": found.segment_count,
        "hash": found.content_hash,
    }


@version.command("create")
@click.argument("name")
@server_option
@project_option
@where_options
@click.option("--description", "-d", default="", help="What the version is for.")
def version_create(
    name: str,
    server: str | None,
    project: str,
    where: tuple[str, ...],
    state: str | None,
    description: str,
) -> None:
    """Make version NAME of the project's captures (those --where selects; all by default).

    \b
    Examples:
      capturehub version create v1 --project watch
      capturehub version create s01 --project watch --where Subject=S01 --state SUCCESS
    """
    filters = where_filters(where, state)
    with open_client(server) as client:
        made = find_project(client, project).versions.create(
            name, where=filters or None, description=description
        )
    stdout_console().print(
        f"Version {made.name!r}: {made.capture_count} captures, {made.segment_count} segments, "
        f"content hash {made.content_hash}"
    )


@version.command("ls")
@server_option
@project_option
@format_options
def version_ls(server: str | None, project: str, output: str | None) -> None:
    """List the project's versions, oldest first.

    \b
    Example:
      capturehub version ls --project watch --json
    """
    with open_client(server) as client:
        found = find_project(client, project).versions.list()
    emit(
        [_row(item) for item in found],
        VERSION_COLUMNS,
        output=output,
        title=f"Versions of {project}",
        json_rows=[item.info for item in found],
    )


@version.command("show")
@click.argument("name")
@server_option
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
def version_show(name: str, server: str | None, project: str, as_json: bool) -> None:
    """Show version NAME: its filters, counts per label value and content hash.

    \b
    Example:
      capturehub version show v1 --project watch
    """
    with open_client(server) as client:
        found = find_project(client, project).versions.get(name)
    if as_json:
        click.echo(json.dumps(found.info, indent=2))
        return
    out = stdout_console()
    out.print(f"version       {found.name}")
    out.print(f"description   {found.description}")
    out.print(f"created (UTC) {found.created_at:%Y-%m-%d %H:%M:%S}" if found.created_at else "")
    out.print(f"where         {found.where or 'the whole project'}")
    out.print(f"captures      {found.capture_count}")
    out.print(f"samples       {found.sample_count}")
    out.print(f"segments      {found.segment_count}")
    for label, values in found.labels.items():
        for value, count in values.items():
            out.print(f"  {label} = {value}: {count}")
    out.print(f"content hash  {found.content_hash}")


@version.command("diff")
@click.argument("old")
@click.argument("new")
@server_option
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole comparison as JSON.")
def version_diff(old: str, new: str, server: str | None, project: str, as_json: bool) -> None:
    """What changed from version OLD to version NEW: captures added (+), removed (-) and
    changed (~: file, name, metadata, segments).

    \b
    Example:
      capturehub version diff v1 v2 --project watch
    """
    with open_client(server) as client:
        versions = find_project(client, project).versions
        result = versions.get(old).diff(new)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    out = stdout_console()
    for item in result["added"]:
        out.print(f"+ {item['name']}")
    for item in result["removed"]:
        out.print(f"- {item['name']}")
    for item in result["changed"]:
        out.print(f"~ {item['name']}: {', '.join(item['changes'])}")
    out.print(
        f"{len(result['added'])} added, {len(result['removed'])} removed, "
        f"{len(result['changed'])} changed"
    )


@version.command("export")
@click.argument("name")
@server_option
@project_option
@export_options
@workers_option("Captures fetched at once.")
@quiet_option
def version_export(
    name: str,
    server: str | None,
    project: str,
    fmt: str,
    out: Path,
    workers: int,
    quiet: bool,
) -> None:
    """Export version NAME as `capturehub export` does, with version.json (its content hash
    and listing).

    \b
    Example:
      capturehub version export v1 --project watch --format npz --out v1-dataset/
    """
    bar = StageProgress(quiet=quiet)
    with open_client(server) as client:
        try:
            report = (
                find_project(client, project)
                .versions.get(name)
                .export(
                    out,
                    format=fmt,
                    workers=workers,
                    progress=lambda done, total: bar.update("Exporting", done, total),
                )
            )
        finally:
            bar.stop()
    stdout_console().print(f"Exported version {name!r}: {report.summary()} to {out}.")
    if report.left_out:
        stderr_console().print(
            f"{len(report.left_out)} captures of the version had no samples (not processed)."
        )


@version.command("delete")
@click.argument("name")
@server_option
@project_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def version_delete(name: str, server: str | None, project: str, yes: bool) -> None:
    """Delete version NAME (files only it kept are freed on the server).

    \b
    Example:
      capturehub version delete v1 --project watch --yes
    """
    if not yes and not click.confirm(f"Delete version {name!r} of {project!r}?"):
        raise CliError("nothing deleted", "pass --yes to delete without asking")
    with open_client(server) as client:
        find_project(client, project).versions.get(name).delete()
    stdout_console().print(f"Deleted version {name!r}.")
