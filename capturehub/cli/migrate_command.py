"""``capturehub migrate``: move a lab from its embedded default (SQLite and files in the data
directory) to PostgreSQL and another blob store (see docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path

import click

from capturehub.cli.server_commands import DATA_DIR_HELP, _settings


@click.command("migrate")
@click.option(
    "--to-database",
    required=True,
    metavar="URL",
    help="The new, empty database, e.g. postgresql+psycopg://capturehub@db:5432/capturehub.",
)
@click.option(
    "--to-storage",
    required=True,
    metavar="URL",
    help="Where the files go (empty): s3://bucket/prefix or file:///folder.",
)
@click.option(
    "--to-s3-endpoint",
    metavar="URL",
    help="The S3-compatible server of an s3:// storage (SeaweedFS, MinIO...); default: "
    "CAPTUREHUB_S3_ENDPOINT_URL, else AWS. Credentials: boto3's usual chain.",
)
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
@click.option("--batch-size", default=2000, show_default=True, help="Rows copied per transaction.")
@click.option("--jobs", default=4, show_default=True, help="Files copied at once.")
def migrate(
    to_database: str,
    to_storage: str,
    to_s3_endpoint: str | None,
    data_dir: Path | None,
    batch_size: int,
    jobs: int,
) -> None:
    """Copy this lab's database and files to a new database and storage.

    \b
    The old lab (its CAPTUREHUB_* settings, or --data-dir) is only read. Stop
    its server first: nothing may write to it during the move. Every row count
    and every file (size and sha256, read back from the new storage) is checked.
    Interrupted, run the same command again: it continues where it stopped.
    Then start the servers with CAPTUREHUB_DATABASE_URL and the storage set to
    the new places (docs/deploy.md).
    Example:
      capturehub migrate --data-dir /srv/capturehub \\
        --to-database postgresql+psycopg://capturehub@db/capturehub \\
        --to-storage s3://lab-captures/capturehub
    """
    from capturehub.server.moving import MoveError, move_lab

    settings = _settings(data_dir)
    try:
        report = move_lab(
            settings,
            to_database,
            to_storage,
            batch_size=batch_size,
            jobs=jobs,
            s3_endpoint_url=to_s3_endpoint,
            say=click.echo,
        )
    except MoveError as exc:
        raise click.ClickException(str(exc)) from exc
    files = report.files
    rows_rate = report.rows_copied / report.row_seconds if report.row_seconds else 0.0
    files_rate = files.copied / report.file_seconds if report.file_seconds else 0.0
    click.echo(
        f"rows: {report.rows} (copied now: {report.rows_copied} in {report.row_seconds:.1f} s, "
        f"{rows_rate:.0f} rows/s)"
    )
    click.echo(
        f"files: {files.already + files.copied} checked (copied now: {files.copied}, "
        f"{files.bytes / 1e6:.1f} MB in {report.file_seconds:.1f} s, {files_rate:.1f} files/s)"
    )
    if files.missing:
        click.echo(
            f"warning: {len(files.missing)} files named by captures were already missing in "
            "the old lab (capturehub fsck there lists them):"
        )
        for key in files.missing[:20]:
            click.echo(f"  {key}")
    if files.damaged:
        click.echo(
            f"warning: {len(files.damaged)} originals already differed from what their capture "
            "recorded in the old lab; copied as they are:"
        )
        for line in files.damaged[:20]:
            click.echo(f"  {line}")
    if files.failed:
        click.echo(f"{len(files.failed)} files could not be copied:", err=True)
        for line in files.failed[:20]:
            click.echo(f"  {line}", err=True)
        raise click.ClickException("the move is not complete: run the same command again")
    click.echo(f"moved and checked in {report.total_seconds:.1f} s")
