"""Connecting the client commands to a server: which server, which credentials, which project.

Precedence, highest first: ``--server`` (or ``$CAPTUREHUB_SERVER``), else the server of the
last ``capturehub login``, else ``http://localhost:8000/``. Credentials: ``$CAPTUREHUB_API_KEY``,
else ``$CAPTUREHUB_USERNAME`` with ``$CAPTUREHUB_PASSWORD``, else the login saved for that
server. Renewed tokens are saved back as soon as the SDK gets them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from capturehub._transport import TransferProgress, normalize_base_url
from capturehub.cli.credentials import CredentialStore
from capturehub.cli.errors import CliError
from capturehub.client import (
    DEFAULT_SERVER,
    ENV_API_KEY,
    ENV_PASSWORD,
    ENV_SERVER,
    ENV_USERNAME,
    Client,
)
from capturehub.datamanager.project import Project

F = TypeVar("F", bound=Callable[..., Any])

SERVER_HELP = "Server URL; default: the server of the last `capturehub login`."


def server_option(function: F) -> F:
    """``--server URL`` for every command that talks to a server."""
    return click.option(
        "--server", metavar="URL", envvar=ENV_SERVER, show_envvar=True, help=SERVER_HELP
    )(function)


def project_option(function: F) -> F:
    return click.option(
        "--project",
        "-p",
        required=True,
        metavar="NAME",
        help="The project (see `capturehub projects ls`).",
    )(function)


def resolve_server(server: str | None, store: CredentialStore | None = None) -> str:
    """The server URL a command talks to (normalized, ending in ``/``)."""
    store = store or CredentialStore()
    chosen = server or os.environ.get(ENV_SERVER) or store.current_server or DEFAULT_SERVER
    return normalize_base_url(chosen)


def open_client(server: str | None, *, progress: TransferProgress | None = None) -> Client:
    """A logged-in SDK client, or a CliError saying how to log in."""
    store = CredentialStore()
    url = resolve_server(server, store)
    api_key = os.environ.get(ENV_API_KEY)
    if api_key:
        return Client(server=url, api_key=api_key, progress=progress)
    username, password = os.environ.get(ENV_USERNAME), os.environ.get(ENV_PASSWORD)
    if username and password is not None:
        return Client(server=url, username=username, password=password, progress=progress)
    saved = store.get(url)
    if saved is None:
        raise CliError(
            f"not logged in to {url}",
            f"run `capturehub login --server {url}`, or set {ENV_API_KEY}",
        )
    return Client(
        server=url,
        token=saved.access_token,
        refresh_token=saved.refresh_token,
        on_tokens=lambda tokens: store.update_tokens(url, tokens),
        progress=progress,
    )


def find_project(client: Client, name: str) -> Project:
    """The project named ``name``, or a CliError pointing to ``capturehub projects ls``."""
    project = client.projects.get_project_by_name(name)
    if project is None:
        raise CliError(
            f"no project named {name!r} on {client.server}",
            "see `capturehub projects ls`, or create it with `capturehub projects create`",
        )
    client.project = project
    return project


def default_workers() -> int:
    """Transfers at once unless ``--workers`` says otherwise: network-bound, so two per CPU."""
    return min(8, (os.cpu_count() or 2) * 2)


def workers_option(help_text: str) -> Callable[[F], F]:
    """``--workers N`` of the commands that move many files (upload, download, export)."""
    return click.option(
        "--workers",
        type=click.IntRange(1, 64),
        default=default_workers,
        show_default="2 per CPU, at most 8",
        help=help_text,
    )


def quiet_option(function: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="No progress display.")(function)
