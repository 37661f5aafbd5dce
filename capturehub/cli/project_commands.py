"""``capturehub projects ls | create | rm``: the team's projects; ``capturehub project
hmac-key``: one project's Edge Impulse HMAC key."""

from __future__ import annotations

import click

from capturehub.cli.errors import CliError
from capturehub.cli.output import emit, format_options
from capturehub.cli.session import find_project, open_client, server_option
from capturehub.exceptions import ConflictError

PROJECT_COLUMNS = ["name", "uuid", "created_at", "last_modified", "description"]


@click.group()
def projects() -> None:
    """List, create and delete projects.

    \b
    Examples:
      capturehub projects ls
      capturehub projects create "gait study"
      capturehub projects rm "gait study" --yes
    """


@projects.command("ls")
@server_option
@format_options
def projects_ls(server: str | None, output: str | None) -> None:
    """List the team's projects.

    \b
    Examples:
      capturehub projects ls
      capturehub projects ls --json
    """
    with open_client(server) as client:
        found = client.projects.get_projects()
        if output is not None:
            infos = [project.info for project in found]
            emit(infos, PROJECT_COLUMNS, output=output, json_rows=infos)
            return
        rows = [
            {
                "name": project.name,
                "created (UTC)": f"{project.created_at:%Y-%m-%d %H:%M}"
                if project.created_at
                else "",
                "description": project.description,
                "uuid": project.uuid,
            }
            for project in found
        ]
        emit(
            rows,
            list(rows[0]) if rows else ["name"],
            output=None,
            title=f"Projects at {client.server}",
        )


@projects.command("create")
@server_option
@click.argument("name")
@click.option("--description", help="A description shown with the project.")
def projects_create(server: str | None, name: str, description: str | None) -> None:
    """Create a project.

    \b
    Example:
      capturehub projects create "gait study" --description "walking, 3 sensors"
    """
    with open_client(server) as client:
        try:
            project = client.projects.create_project(name, description=description)
        except ConflictError as exc:
            raise CliError(f"a project named {name!r} exists already") from exc
        click.echo(f"Created project {project.name!r} ({project.uuid}).")


@projects.command("rm")
@server_option
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def projects_rm(server: str | None, name: str, yes: bool) -> None:
    """Delete a project with all its captures, metadata and segments.

    \b
    Asks for confirmation unless --yes is given.
    Examples:
      capturehub projects rm "old study"
      capturehub projects rm "old study" --yes
    """
    with open_client(server) as client:
        project = find_project(client, name)
        if not yes:
            count = len(project.captures.get_captures())
            click.confirm(
                f"Delete project {name!r} and its {count} captures from {client.server}?",
                abort=True,
            )
        project.delete()
        click.echo(f"Deleted project {name!r}.")


@click.group("project")
def project_group() -> None:
    """One project's settings (its Edge Impulse HMAC key)."""


@project_group.command("hmac-key")
@server_option
@click.argument("name")
def project_hmac_key(server: str | None, name: str) -> None:
    """Print the project's HMAC key (devices sign Edge Impulse acquisition documents with it,
    docs/edge-impulse.md).

    \b
    Example:
      capturehub project hmac-key gestures
    """
    with open_client(server) as client:
        click.echo(find_project(client, name).edge_impulse_hmac_key())
