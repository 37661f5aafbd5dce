"""``capturehub device create|ls|delete``: the devices that record into a project over MQTT
and their keys (a thin shell over the SDK's ``project.devices``; docs/recording.md#mqtt)."""

from __future__ import annotations

from typing import Any

import click

from capturehub.cli.output import emit, format_options
from capturehub.cli.session import find_project, open_client, project_option, server_option

LS_COLUMNS = ["name", "key prefix", "topic", "created by", "created at"]


@click.group("device")
def device_group() -> None:
    """MQTT devices: make one and print its key, list them, delete one.

    \b
    Examples:
      capturehub device create esp32-kitchen --project gait
      capturehub device ls --project gait
      capturehub device delete esp32-kitchen --project gait
    """


def _row(device: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": device.get("name"),
        "key prefix": device.get("key_prefix"),
        "topic": device.get("topic"),
        "created by": device.get("created_by"),
        "created at": device.get("created_at"),
    }


@device_group.command("create")
@server_option
@project_option
@click.argument("name")
@format_options
def create_command(server: str | None, project: str, name: str, output: str | None) -> None:
    """Make device NAME in the project and print its key (only now: the server keeps a hash).

    NAME is the device's MQTT topic level, unique on the server. Creating a device that
    exists gives it a new key; the old one stops working. The key is the last line of the
    output, so `capturehub device create NAME --project P | tail -1` hands it to a script.

    \b
    Example:
      capturehub device create esp32-kitchen --project gait
    """
    with open_client(server) as client:
        device = find_project(client, project).devices.create(name)
    if output == "json":
        emit([], [], output="json", json_rows=[device])
        return
    click.echo(f"device {device.get('name')!r} publishes to {device.get('topic')}")
    click.echo("its key, for the MQTT v5 user property 'capturehub-key' (shown only once):")
    click.echo(str(device.get("key")))


@device_group.command("ls")
@server_option
@project_option
@format_options
def ls_command(server: str | None, project: str, output: str | None) -> None:
    """List the project's devices (never their keys: the key prefix tells them apart).

    \b
    Example:
      capturehub device ls --project gait
    """
    with open_client(server) as client:
        devices = find_project(client, project).devices.list()
    emit(
        [_row(device) for device in devices],
        LS_COLUMNS,
        output=output,
        title=f"{len(devices)} devices in {project!r}",
        json_rows=devices,
    )


@device_group.command("delete")
@server_option
@project_option
@click.argument("name")
def delete_command(server: str | None, project: str, name: str) -> None:
    """Delete device NAME: its key stops working (within 30 s); its captures stay.

    \b
    Example:
      capturehub device delete esp32-kitchen --project gait
    """
    with open_client(server) as client:
        find_project(client, project).devices.delete(name)
    click.echo(f"deleted device {name!r}")
