"""Entry point of the ``capturehub`` command; each command group lives in its own module."""

from __future__ import annotations

import click

from capturehub._version import __version__
from capturehub.cli.server_commands import apikey, fsck_command, serve, user


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="capturehub")
def cli() -> None:
    """capturehub: a home for sensor-data recordings (captures).

    \b
    Examples:
      capturehub serve --data-dir ./capturehub-data
      capturehub user create alice --password 'a long secret' --team lab
      capturehub apikey create --user alice
    """


cli.add_command(serve)
cli.add_command(user)
cli.add_command(apikey)
cli.add_command(fsck_command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
