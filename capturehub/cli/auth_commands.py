"""``capturehub login``, ``logout`` and ``whoami``: the saved login of each server."""

from __future__ import annotations

import os

import click

from capturehub.cli.credentials import CredentialStore, SavedLogin
from capturehub.cli.errors import CliError
from capturehub.cli.session import open_client, resolve_server, server_option
from capturehub.client import ENV_API_KEY, ENV_PASSWORD, ENV_USERNAME, Client
from capturehub.exceptions import AuthenticationError, CapturehubError


@click.command()
@server_option
@click.option("--username", "-u", help="Your user name; asked when omitted.")
@click.option(
    "--password",
    help="Your password; asked (hidden) when omitted. Prefer the prompt: options show in `ps`.",
)
def login(server: str | None, username: str | None, password: str | None) -> None:
    """Log in to a server and save the login for the next commands.

    \b
    Saves an access and a refresh token (never the password) in
    ~/.config/capturehub/credentials.json (or $XDG_CONFIG_HOME/capturehub/), readable by you
    only; that server becomes the default of the other commands. CAPTUREHUB_SERVER and
    CAPTUREHUB_API_KEY, when set, win over the saved login.
    Examples:
      capturehub login --server http://lab-server:8000/
      capturehub login --server http://lab-server:8000/ --username alice --password "$PW"
    """
    store = CredentialStore()
    url = resolve_server(server, store)
    if username is None:
        username = click.prompt("Username", default=os.environ.get(ENV_USERNAME) or None)
    if password is None:
        password = click.prompt("Password", hide_input=True)
    try:
        client = Client(server=url, username=username, password=password)
    except AuthenticationError as exc:
        reason = exc.detail.partition("refused: ")[2] or exc.detail
        raise CliError(
            f"login to {url} as {username!r} refused ({reason.rstrip('.')})",
            "check the user name and password",
        ) from exc
    with client:
        team = client.team_info()
        tokens = client.tokens
    if tokens is None:  # pragma: no cover - a password login always yields tokens
        raise CliError(f"{url} answered the login without a token")
    store.save(
        SavedLogin(
            server=url,
            username=username,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
        )
    )
    click.echo(f"Logged in to {url} as {username!r} (team {team.get('name')!r}).")
    click.echo(f"Login saved in {store.path}.")
    if os.environ.get(ENV_API_KEY):
        click.echo(f"Note: {ENV_API_KEY} is set and is used instead of this login.")


@click.command()
@server_option
@click.option(
    "--local",
    is_flag=True,
    help="Only forget the saved login; its tokens stay valid on the server until they expire.",
)
def logout(server: str | None, local: bool) -> None:
    """Log out of a server (default: the current one).

    \b
    The server revokes the saved login's tokens (so a copy of the credentials file is
    useless too), then the login is forgotten. If the server cannot be reached the login is
    forgotten all the same, and the command says so and fails: its tokens then stay valid
    until they expire (10 hours, the refresh token 30 days), unless an administrator runs
    `capturehub user logout-all NAME`.
    Examples:
      capturehub logout
      capturehub logout --server http://lab-server:8000/
      capturehub logout --local
    """
    store = CredentialStore()
    url = resolve_server(server, store)
    saved = store.get(url)
    if saved is None:
        click.echo(f"Not logged in to {url}; nothing to do.")
        return
    problem: CapturehubError | None = None
    if not local:
        try:
            with Client(
                server=url, token=saved.access_token, refresh_token=saved.refresh_token
            ) as client:
                client.logout()
        except CapturehubError as exc:
            problem = exc
    store.remove(url)
    if problem is not None:
        raise CliError(
            f"forgot the login of {url}, but the server did not revoke its tokens ({problem})",
            "they stay valid until they expire; an administrator can run "
            "`capturehub user logout-all NAME`",
        )
    if local:
        click.echo(
            f"Logged out of {url} (forgotten here only: its tokens stay valid on the server "
            "until they expire)."
        )
    else:
        click.echo(f"Logged out of {url}.")


@click.command()
@server_option
def whoami(server: str | None) -> None:
    """Show the server, user and team the commands act as.

    \b
    Example:
      capturehub whoami
    """
    with open_client(server) as client:
        team = client.team_info()
        if os.environ.get(ENV_API_KEY):
            how = f"API key from {ENV_API_KEY}"
        elif os.environ.get(ENV_USERNAME) and os.environ.get(ENV_PASSWORD) is not None:
            how = f"password from {ENV_USERNAME}/{ENV_PASSWORD}"
        else:
            how = "saved login"
        click.echo(
            f"{team.get('user') or '?'} in team {team.get('name')!r} at {client.server} ({how})"
        )
