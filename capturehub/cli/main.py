"""Entry point of the ``capturehub`` command; each command group lives in its own module.

Client commands (login, projects, upload, ls, download, export, stats, demo…) are a thin shell
over the SDK; server commands (serve, worker, user, apikey, fsck) import the server lazily. Any
error a command raises is printed as one line with a hint (see :mod:`capturehub.cli.errors`);
``capturehub --debug`` shows the traceback instead.
"""

from __future__ import annotations

from typing import Any

import click

from capturehub._version import __version__
from capturehub.cli.account_commands import apikey, user
from capturehub.cli.auth_commands import login, logout, whoami
from capturehub.cli.capture_commands import download, ls, stats
from capturehub.cli.demo_command import demo
from capturehub.cli.device_commands import device_group
from capturehub.cli.errors import translate
from capturehub.cli.export_command import export
from capturehub.cli.migrate_command import migrate
from capturehub.cli.project_commands import project_group, projects
from capturehub.cli.record_command import record
from capturehub.cli.recording_commands import recording_group
from capturehub.cli.server_commands import fsck_command, serve
from capturehub.cli.upload_command import upload
from capturehub.cli.version_commands import version
from capturehub.cli.worker_command import worker

ENV_DEBUG = "CAPTUREHUB_DEBUG"


class CapturehubGroup(click.Group):
    """Turns every exception of a command into a one-line error, unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise translate(exc) from exc


@click.group(cls=CapturehubGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="capturehub")
@click.option(
    "--debug",
    is_flag=True,
    envvar=ENV_DEBUG,
    help="Show the full traceback of an error instead of one line.",
)
def cli(debug: bool) -> None:
    """capturehub: a home for sensor-data recordings (captures).

    \b
    Try it on this machine (a server with a labelled demo dataset):
      capturehub demo
    Work with a server:
      capturehub login --server http://lab-server:8000/
      capturehub upload recordings/ --project "gait study"
      capturehub ls --project "gait study" --where Subject=S01
      capturehub export --project "gait study" --format parquet --out dataset/
    Run a server (needs `pip install 'capturehub[server]'`):
      capturehub serve --data-dir ./capturehub-data
      capturehub user create alice --password 'a long secret' --team lab
      capturehub apikey create --user alice
    Several servers and workers (CAPTUREHUB_BROKER_URL=redis://...): see docs/deploy.md.
      capturehub worker
    """


for command in (login, logout, whoami, projects, upload, ls, download, export, stats, demo):
    cli.add_command(command)
cli.add_command(version)
cli.add_command(serve)
cli.add_command(project_group)
cli.add_command(user)
cli.add_command(apikey)
cli.add_command(fsck_command)
cli.add_command(worker)
cli.add_command(migrate)
cli.add_command(recording_group)
cli.add_command(device_group)
cli.add_command(record)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
