"""Every command has help with examples and is documented in docs/cli.md, options included;
the client commands work without the server's packages."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from capturehub.cli.main import cli

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def commands(
    group: click.Group = cli, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``group`` with its path of names, groups included."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def section(text: str, title: str) -> str:
    """The part of docs/cli.md under the heading ``title`` (up to the next heading)."""
    match = re.search(rf"^#+ `{re.escape(title)}`\n(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match is not None, f"docs/cli.md has no heading `{title}`"
    return match.group(1)


def test_every_command_has_help_with_an_example() -> None:
    for path, command in commands():
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert result.stdout.startswith(f"Usage: cli {' '.join(path)}"), result.stdout
        assert command.help and command.help.strip(), path
        if not isinstance(command, click.Group) or path == ("projects",):
            assert "Example" in command.help, f"capturehub {' '.join(path)} has no example"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{param.opts} of capturehub {' '.join(path)} has no help"


def test_every_command_and_option_is_documented() -> None:
    text = DOCS.read_text()
    for path, command in commands():
        body = section(text, "capturehub " + " ".join(path))
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                names = [o for o in param.opts if o.startswith("--")]
                assert any(n in body for n in names), f"{names} of {path} not in docs/cli.md"
    for option in cli.params:
        if isinstance(option, click.Option) and option.opts[0].startswith("--"):
            assert option.opts[0] in text


def test_client_commands_need_no_server_packages() -> None:
    check = (
        "import sys, capturehub.cli.main; "
        "print([m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'uvicorn', 'sqlalchemy', 'alembic', 'pydantic_settings') "
        "or m.startswith('capturehub.server')])"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
