"""``capturehub login / logout / whoami`` and the one-line errors every command gives."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx

from capturehub.exceptions import ServerUnreachableError
from tests.cli.conftest import Run, one_line_error, run_cli
from tests.conftest import RunningServer
from tests.servers import free_port


def test_login_saves_tokens_privately_and_commands_use_them(
    server: RunningServer, config_home: Path
) -> None:
    env: dict[str, str | None] = {"XDG_CONFIG_HOME": str(config_home)}
    result = run_cli(
        ["login", "--server", server.url.rstrip("/")],
        env=env,
        input=f"{server.username}\n{server.password}\n",
    )
    assert result.exit_code == 0, result.output
    assert f"Logged in to {server.url} as {server.username!r} (team 'lab')." in result.stdout
    saved = config_home / "capturehub" / "credentials.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert server.password not in saved.read_text()
    body = json.loads(saved.read_text())
    assert body["current"] == server.url
    assert body["servers"][server.url]["username"] == server.username

    # No --server and no CAPTUREHUB_* variables: the saved login is used.
    whoami = run_cli(["whoami"], env=env)
    assert whoami.exit_code == 0, whoami.output
    assert whoami.stdout.strip() == f"{server.username} in team 'lab' at {server.url} (saved login)"

    # The API key in the environment wins over the saved login (it is the other account's).
    other = run_cli(["whoami"], env={**env, "CAPTUREHUB_API_KEY": server.other.api_key})
    assert f"{server.other.username} in team 'rivals'" in other.stdout

    logout = run_cli(["logout"], env=env)
    assert logout.stdout.strip() == f"Logged out of {server.url}."
    assert json.loads(saved.read_text())["servers"] == {}
    error = one_line_error(run_cli(["whoami", "--server", server.url], env=env))
    assert f"not logged in to {server.url}; run `capturehub login --server" in error


def test_renewed_tokens_are_saved_back(server: RunningServer, config_home: Path) -> None:
    env: dict[str, str | None] = {"XDG_CONFIG_HOME": str(config_home)}
    args = ["login", "--server", server.url, "-u", server.other.username]
    assert run_cli([*args, "--password", server.other.password], env=env).exit_code == 0
    saved = config_home / "capturehub" / "credentials.json"
    before = json.loads(saved.read_text())["servers"][server.url]
    server.expire_tokens(server.other.username)  # the access token is now refused: a 401

    result = run_cli(["projects", "ls", "--json"], env=env)
    assert result.exit_code == 0, result.output
    after = json.loads(saved.read_text())["servers"][server.url]
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # refresh tokens rotate
    assert run_cli(["whoami"], env=env).exit_code == 0  # and the new ones work


def test_wrong_password_is_one_line(server: RunningServer, config_home: Path) -> None:
    result = run_cli(
        ["login", "--server", server.url, "-u", server.username, "--password", "not-it-at-all"],
        env={"XDG_CONFIG_HOME": str(config_home)},
    )
    error = one_line_error(result)
    assert f"login to {server.url} as {server.username!r} refused" in error
    assert "check the user name and password" in error
    assert not (config_home / "capturehub" / "credentials.json").exists()


def test_wrong_api_key_is_one_line(run: Run) -> None:
    error = one_line_error(run("projects", "ls", CAPTUREHUB_API_KEY="chk_not-a-key"))
    assert "not authenticated" in error and "CAPTUREHUB_API_KEY" in error


def unreachable_env(config_home: Path) -> dict[str, str | None]:
    """A server address nobody listens on (no test server needed: not per database)."""
    return {
        "XDG_CONFIG_HOME": str(config_home),
        "CAPTUREHUB_SERVER": f"http://127.0.0.1:{free_port()}/",
        "CAPTUREHUB_API_KEY": "chk_any",
    }


def test_unreachable_server_is_one_line_with_a_hint(config_home: Path) -> None:
    env = unreachable_env(config_home)
    nobody = env["CAPTUREHUB_SERVER"]
    error = one_line_error(run_cli(["ls", "-p", "x"], env=env))
    assert error.startswith(f"Error: cannot reach {nobody} (connection refused)")
    assert "check --server" in error and "capturehub login" in error


def test_unknown_project_points_to_projects_ls(run: Run) -> None:
    error = one_line_error(run("ls", "--project", "no such project"))
    assert "no project named 'no such project'" in error
    assert "`capturehub projects ls`" in error


def test_debug_shows_the_exception(config_home: Path) -> None:
    result = run_cli(["--debug", "ls", "-p", "x"], env=unreachable_env(config_home))
    assert isinstance(result.exception, ServerUnreachableError)
    assert result.exit_code == 1


def test_logout_revokes_the_saved_tokens_on_the_server(
    server: RunningServer, config_home: Path
) -> None:
    """A copy of the credentials file is useless after `capturehub logout`; with --local the
    tokens stay valid (only this machine forgets them)."""
    env: dict[str, str | None] = {"XDG_CONFIG_HOME": str(config_home)}
    saved = config_home / "capturehub" / "credentials.json"
    login = ["login", "--server", server.url, "-u", server.other.username]

    def saved_tokens() -> tuple[str, str]:
        entry = json.loads(saved.read_text())["servers"][server.url]
        return entry["access_token"], entry["refresh_token"]

    def works(access: str, refresh: str) -> tuple[int, int]:
        who = httpx.get(server.url + "team-info/", headers={"Authorization": f"Bearer {access}"})
        renewed = httpx.post(
            server.url + "oauth/token/",
            data={"grant_type": "refresh_token", "refresh_token": refresh},
        )
        return who.status_code, renewed.status_code

    assert run_cli([*login, "--password", server.other.password], env=env).exit_code == 0
    access, refresh = saved_tokens()
    logout = run_cli(["logout"], env=env)
    assert logout.exit_code == 0, logout.output
    assert logout.stdout.strip() == f"Logged out of {server.url}."
    assert works(access, refresh) == (401, 400)

    assert run_cli([*login, "--password", server.other.password], env=env).exit_code == 0
    access, refresh = saved_tokens()
    local = run_cli(["logout", "--local"], env=env)
    assert "forgotten here only" in local.stdout
    assert json.loads(saved.read_text())["servers"] == {}
    assert works(access, refresh) == (200, 200)


def test_logout_from_an_unreachable_server_forgets_and_says_so(config_home: Path) -> None:
    from capturehub.cli.credentials import CredentialStore, SavedLogin

    url = f"http://127.0.0.1:{free_port()}/"
    store = CredentialStore(config_home / "capturehub" / "credentials.json")
    store.save(SavedLogin(server=url, username="ada", access_token="a", refresh_token="r"))
    result = run_cli(["logout", "--server", url], env={"XDG_CONFIG_HOME": str(config_home)})
    assert result.exit_code == 1
    error = one_line_error(result)
    assert f"forgot the login of {url}, but the server did not revoke its tokens" in error
    assert store.get(url) is None
