"""``capturehub recording ls|show|stop``: the live recordings of a project (a thin shell over
the SDK's ``project.recordings``; docs/recording.md)."""

from __future__ import annotations

from typing import Any

import click

from capturehub.cli.output import emit, format_options
from capturehub.cli.session import find_project, open_client, project_option, server_option
from capturehub.datamanager.project import Project

LS_COLUMNS = ["name", "state", "samples", "rate (Hz)", "last seq", "bad batches", "gaps", "uuid"]
SHOW_FIELDS = [
    "name",
    "uuid",
    "kind",
    "state",
    "channels",
    "sample_rate",
    "samples",
    "batches",
    "last_seq",
    "bad_batches",
    "gaps",
    "last_problem",
    "idle_timeout_seconds",
    "started_at",
    "last_batch_at",
    "stopped_at",
    "stopped_by",
    "task_state",
]


@click.group("recording")
def recording_group() -> None:
    """Live recordings: list them, show one, stop one.

    \b
    Examples:
      capturehub recording ls --project gait
      capturehub recording show walk-07.csv --project gait
      capturehub recording stop walk-07.csv --project gait
    """


def _row(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": status.get("name"),
        "state": status.get("state"),
        "samples": status.get("samples"),
        "rate (Hz)": status.get("sample_rate"),
        "last seq": status.get("last_seq"),
        "bad batches": status.get("bad_batches"),
        "gaps": status.get("gaps"),
        "uuid": status.get("uuid"),
    }


@recording_group.command("ls")
@server_option
@project_option
@click.option("--all", "include_stopped", is_flag=True, help="Include stopped recordings.")
@format_options
def ls_command(server: str | None, project: str, include_stopped: bool, output: str | None) -> None:
    """List the project's recordings in progress (with --all, stopped ones too).

    \b
    Example:
      capturehub recording ls --project gait --all
    """
    with open_client(server) as client:
        statuses = find_project(client, project).recordings.list(all=include_stopped)
    emit(
        [_row(status) for status in statuses],
        LS_COLUMNS,
        output=output,
        title=f"{len(statuses)} recordings in {project!r}",
        json_rows=statuses,
    )


def _find(project: Project, recording: str) -> dict[str, Any]:
    """The status of the recording named ``recording`` (or with that capture uuid)."""
    statuses = project.recordings.list(all=True)
    for status in statuses:
        if recording in (status.get("uuid"), status.get("name")):
            return status
    raise click.ClickException(
        f"project {project.name!r} has no recording named {recording!r}; "
        "`capturehub recording ls --all` lists them"
    )


def _show(status: dict[str, Any], output: str | None) -> None:
    if output == "json":
        emit([], [], output="json", json_rows=[status])
        return
    rows = []
    for field in SHOW_FIELDS:
        value = status.get(field)
        if field == "channels":
            value = ", ".join(
                f"{c['name']} ({c['units']})" if c.get("units") else c["name"] for c in value or []
            )
        rows.append({"field": field, "value": value})
    emit(rows, ["field", "value"], output=output)


@recording_group.command("show")
@server_option
@project_option
@click.argument("recording")
@format_options
def show_command(server: str | None, project: str, recording: str, output: str | None) -> None:
    """Show a recording's status (RECORDING: its name or its capture's uuid).

    \b
    Example:
      capturehub recording show walk-07.csv --project gait
    """
    with open_client(server) as client:
        found = _find(find_project(client, project), recording)
        status = find_project(client, project).recordings.get(found["uuid"]).status()
    _show(status, output)


@recording_group.command("stop")
@server_option
@project_option
@click.argument("recording")
@format_options
def stop_command(server: str | None, project: str, recording: str, output: str | None) -> None:
    """Stop a recording: the server stores its file and processes it like an upload.

    \b
    Example:
      capturehub recording stop walk-07.csv --project gait
    """
    with open_client(server) as client:
        selected = find_project(client, project)
        found = _find(selected, recording)
        status = selected.recordings.get(found["uuid"]).stop()
    _show(status, output)
