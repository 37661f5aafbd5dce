"""``capturehub user`` and ``capturehub apikey``: accounts and keys, managed in the database.

They act on the database directly (like ``serve``, from the CAPTUREHUB_* settings or
``--data-dir``), so they work while servers run: every server looks tokens, keys and users up
in the database on each request, so a revocation holds on all of them from the next request.
"""

from __future__ import annotations

from pathlib import Path

import click

from capturehub.cli.server_commands import DATA_DIR_HELP, _api_error, _context, _settings


@click.group()
def user() -> None:
    """Manage users (works while the server runs)."""


@user.command("create")
@click.argument("name")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The user's password (at least 8 characters); asked when omitted.",
)
@click.option(
    "--team", default="default", show_default=True, help="The user's team; created when missing."
)
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
def user_create(name: str, password: str, team: str, data_dir: Path | None) -> None:
    """Create a user in a team.

    \b
    Example:
      capturehub user create alice --password 'a long secret' --team lab
    """
    from capturehub.server.auth import service
    from capturehub.server.errors import APIError

    context = _context(_settings(data_dir))
    try:
        with context.db.session() as session:
            service.create_user(session, name, password, team)
    except APIError as exc:
        raise _api_error(exc) from exc
    click.echo(f"Created user {name!r} in team {team!r}.")


def _set_active(name: str, data_dir: Path | None, *, active: bool) -> bool:
    from capturehub.server.auth import service
    from capturehub.server.errors import APIError

    context = _context(_settings(data_dir))
    try:
        with context.db.session() as session:
            return service.set_user_active(session, name, active=active)
    except APIError as exc:
        raise _api_error(exc) from exc


@user.command("disable")
@click.argument("name")
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
def user_disable(name: str, data_dir: Path | None) -> None:
    """Disable a user: no login, and their tokens and API keys are refused at once.

    \b
    Their tokens are revoked too, so `user enable` does not bring old logins back;
    their API keys (unless revoked) work again once enabled. Their projects stay.
    Example:
      capturehub user disable alice
    """
    changed = _set_active(name, data_dir, active=False)
    click.echo(f"Disabled user {name!r}." if changed else f"User {name!r} was already disabled.")


@user.command("enable")
@click.argument("name")
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
def user_enable(name: str, data_dir: Path | None) -> None:
    """Enable a disabled user again (they log in anew).

    \b
    Example:
      capturehub user enable alice
    """
    changed = _set_active(name, data_dir, active=True)
    click.echo(f"Enabled user {name!r}." if changed else f"User {name!r} was already enabled.")


@user.command("logout-all")
@click.argument("name")
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
def user_logout_all(name: str, data_dir: Path | None) -> None:
    """Log a user out everywhere: revoke all their access and refresh tokens.

    \b
    Every client of theirs must log in again (API keys are not touched: see
    `capturehub apikey revoke`).
    Example:
      capturehub user logout-all alice
    """
    from capturehub.server.auth import service
    from capturehub.server.errors import APIError

    context = _context(_settings(data_dir))
    try:
        with context.db.session() as session:
            revoked = service.logout_everywhere(session, name)
    except APIError as exc:
        raise _api_error(exc) from exc
    click.echo(
        f"Logged {name!r} out everywhere: {revoked.access_tokens} access tokens and "
        f"{revoked.refresh_tokens} refresh tokens revoked."
    )


@click.group()
def apikey() -> None:
    """Manage API keys (works while the server runs)."""


@apikey.command("create")
@click.option("--user", "username", required=True, help="The user the key acts as.")
@click.option(
    "--project",
    help="Bind the key to this project of the user's team (name or uuid); with --edge-impulse.",
)
@click.option(
    "--edge-impulse",
    is_flag=True,
    help="An `ei_` project key for Edge Impulse's clients (docs/edge-impulse.md).",
)
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
def apikey_create(
    username: str, project: str | None, edge_impulse: bool, data_dir: Path | None
) -> None:
    """Create an API key and print it once, alone on the last line.

    \b
    Examples:
      KEY=$(capturehub apikey create --user alice | tail -n 1)
      capturehub apikey create --user alice --project gestures --edge-impulse
    """
    from capturehub.server.auth import service
    from capturehub.server.errors import APIError

    if edge_impulse != (project is not None):
        raise click.UsageError(
            "An Edge Impulse key opens one project: give both --project and --edge-impulse."
        )
    context = _context(_settings(data_dir))
    try:
        with context.db.session() as session:
            if project is not None:
                key = service.create_project_api_key(session, username, project)
            else:
                key = service.create_api_key(session, username)
    except APIError as exc:
        raise _api_error(exc) from exc
    if project is not None:
        click.echo(
            f"Edge Impulse API key for project {project!r} as {username!r} "
            "(shown once; store it safely):"
        )
    else:
        click.echo(f"API key for {username!r} (shown once; store it safely):")
    click.echo(key)


@apikey.command("list")
@click.option("--user", "username", help="Only this user's keys.")
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
def apikey_list(username: str | None, data_dir: Path | None) -> None:
    """List API keys by their first characters (the keys themselves are not stored).

    \b
    Columns: prefix, user, created (UTC), state (active or revoked).
    Example:
      capturehub apikey list --user alice
    """
    from capturehub.server.auth import service
    from capturehub.server.errors import APIError

    context = _context(_settings(data_dir))
    try:
        with context.db.read() as session:
            keys = service.list_api_keys(session, username)
    except APIError as exc:
        raise _api_error(exc) from exc
    if not keys:
        click.echo("No API keys.")
        return
    for key in keys:
        state = "revoked" if key.revoked else "active"
        created = key.created_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{key.prefix}  {key.username}  {created}  {state}")


@apikey.command("revoke")
@click.argument("key")
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
def apikey_revoke(key: str, data_dir: Path | None) -> None:
    """Revoke an API key, given whole or by the prefix `apikey list` shows.

    \b
    Every server refuses it (401) from the next request on.
    Example:
      capturehub apikey revoke chk_AbC123
    """
    from capturehub.server.auth import service
    from capturehub.server.errors import APIError

    context = _context(_settings(data_dir))
    try:
        with context.db.session() as session:
            revoked = service.revoke_api_key(session, key)
    except APIError as exc:
        raise _api_error(exc) from exc
    click.echo(f"Revoked API key {revoked.prefix} of {revoked.username!r}.")
