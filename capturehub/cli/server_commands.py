"""Commands that run or check a server on this machine: serve, fsck (user and apikey are in
account_commands.py, worker in worker_command.py).

They import the server lazily, so the SDK-only install (no ``[server]`` extra) still gets a
working ``capturehub`` command with a clear message here.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from capturehub.server.context import AppContext
    from capturehub.server.settings import Settings

DATA_DIR_HELP = "Data directory (SQLite file and blobs). Env: CAPTUREHUB_DATA_DIR."


def _settings(data_dir: Path | None) -> Settings:
    try:
        from capturehub.server.settings import Settings
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise click.ClickException(
            "The server is not installed; run: pip install 'capturehub[server]'"
        ) from exc
    from pydantic import ValidationError

    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        # One line per setting, by the environment variable a person would correct.
        problems = [
            f"  CAPTUREHUB_{'_'.join(str(p) for p in error['loc']).upper()}: "
            f"{str(error['msg']).removeprefix('Value error, ')}"
            for error in exc.errors()
        ]
        raise click.ClickException("invalid settings:\n" + "\n".join(problems)) from exc


def check_storage(context: AppContext) -> None:
    """Stop here, naming the setting, when the blob store refuses this configuration (a
    missing bucket, refused credentials): better than a server that answers every upload
    with an error. A store that does not answer at all may be starting: a warning only."""
    from capturehub.storage import StoreMisconfigured, StoreUnavailable

    try:
        context.blobs.check()
    except StoreMisconfigured as exc:
        raise click.ClickException(f"file storage: {exc}") from exc
    except StoreUnavailable as exc:
        click.echo(
            f"warning: the file storage did not answer ({exc}); requests that need a file "
            "get 503 until it does. Check CAPTUREHUB_S3_ENDPOINT_URL if this lasts.",
            err=True,
        )


def _context(settings: Settings) -> AppContext:
    from capturehub.server.db import upgrade
    from capturehub.server.permissions import make_private
    from capturehub.server.runtime import build_context

    # Every command that opens the data directory may create files in it (SQLite's journal,
    # blobs): private to this user, whatever umask the shell had.
    make_private()
    context = build_context(settings)
    upgrade(context.db.engine)
    return context


def _api_error(exc: Exception) -> click.ClickException:
    return click.ClickException(getattr(exc, "message", str(exc)))


def ensure_first_user(context: AppContext) -> tuple[str, str] | None:
    """Create user ``admin`` (team ``default``) with a random password in an empty database."""
    from capturehub.server.auth import service

    with context.db.session() as session:
        if service.count_users(session):
            return None
        password = secrets.token_urlsafe(12)
        service.create_user(session, "admin", password, "default")
    credentials = context.settings.data_dir / "initial-admin-password.txt"
    credentials.write_text(f"user: admin\npassword: {password}\n")
    os.chmod(credentials, 0o600)
    return "admin", password


def _raise_open_file_limit(wanted: int) -> None:
    """Let this process open ``wanted`` files (each connection is one; the database, blobs and
    logs need some more), as far as the hard limit allows: a soft limit of 1024 would refuse
    connections long before limit_concurrency does."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
@click.option("--workers", type=int, help="Processing threads (env CAPTUREHUB_WORKERS).")
@click.option(
    "--edge-impulse-ports",
    is_flag=True,
    help="Also listen on 4800 (Studio API) and 4810 (ingestion), where Edge Impulse's Node "
    "clients go with EI_HOST=localhost or an IP (docs/edge-impulse.md).",
)
@click.option(
    "--edge-impulse-host",
    default="127.0.0.1",
    show_default=True,
    help="Address of the Edge Impulse ports (0.0.0.0 to take devices on the network).",
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    workers: int | None,
    edge_impulse_ports: bool,
    edge_impulse_host: str,
) -> None:
    """Run the server with the settings from CAPTUREHUB_* variables.

    \b
    By default: SQLite and files in ./capturehub-data, processing in this process.
    On first start it creates the user `admin` and prints its password.
    Examples:
      capturehub serve
      capturehub serve --port 9000 --data-dir /srv/capturehub
      CAPTUREHUB_DATABASE_URL=postgresql+psycopg://me@db/capturehub capturehub serve
      capturehub serve --edge-impulse-ports   # EI_HOST=localhost edge-impulse-uploader ...
    """
    import uvicorn

    from capturehub.server.app import create_app
    from capturehub.server.timeouts import protocol_with_header_timeout

    settings = _settings(data_dir)
    if workers is not None:
        settings.workers = workers
    _raise_open_file_limit(settings.limit_concurrency + 256)
    context = _context(settings)
    check_storage(context)
    first = ensure_first_user(context)
    base = f"http://{host}:{port}/"
    click.echo(
        f"capturehub {settings.effective_database_url.split(':')[0]} data in "
        f"{settings.data_dir.resolve()}"
    )
    if first:
        click.echo(
            f"Created the first user.\n  user: {first[0]}\n  password: {first[1]}\n"
            f"  (also saved in {settings.data_dir / 'initial-admin-password.txt'})"
        )
    if settings.broker_url:
        click.echo("Processing: by `capturehub worker` processes (CAPTUREHUB_BROKER_URL is set).")
    click.echo(f"Log in with the SDK:  Client(server={base!r}, username=..., password=...)")
    click.echo(f"API docs: {base}docs")
    # The schema was upgraded by _context() above: no second pass at start-up.
    app = create_app(context=context, migrate=False)
    # proxy_headers=False: the app reads X-Forwarded-For itself, from CAPTUREHUB_TRUSTED_PROXIES
    # only (uvicorn's FORWARDED_ALLOW_IPS could say "*").
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,
        http=protocol_with_header_timeout(settings.header_timeout_seconds),
        limit_concurrency=settings.limit_concurrency,
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
    )
    if not edge_impulse_ports:
        uvicorn.Server(config).run()
        return
    # One server, one app, three listening sockets: the Node clients reach the same routes
    # at the fixed ports they use for a local host.
    ports = (settings.edge_impulse_studio_port, settings.edge_impulse_ingestion_port)
    sockets = [_listen(host, port), *(_listen(edge_impulse_host, p) for p in ports)]
    click.echo(
        f"Edge Impulse: Studio API on http://{edge_impulse_host}:{ports[0]}/, ingestion on "
        f"http://{edge_impulse_host}:{ports[1]}/"
    )
    uvicorn.Server(config).run(sockets=sockets)


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket (a clear error when the port is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@click.command("fsck")
@click.option("--repair", is_flag=True, help="Fix what is found (see below).")
@click.option(
    "--min-age",
    default=600.0,
    show_default=True,
    help="Ignore blobs younger than this many seconds (uploads in flight).",
)
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
def fsck_command(repair: bool, min_age: float, data_dir: Path | None) -> None:
    """Check that every capture has its files and every file its capture.

    \b
    --repair deletes orphan files, marks captures whose file is lost as FAILURE,
    processes again captures whose columnar copy is missing, builds missing
    plot pyramids (the plot works without, slower), and corrects
    each project's capture count (the capture list's total).
    It warns about files and folders of the data directory that other users
    can read; --repair makes them private (folders 0700, files 0600).
    Exit code 1 when problems were found and not repaired.
    Example:
      capturehub fsck --repair
    """
    from capturehub.server.fsck import fsck

    report = fsck(_context(_settings(data_dir)), repair=repair, min_age_seconds=min_age)
    click.echo(f"orphan blobs: {len(report.orphan_blobs)}")
    for key in report.orphan_blobs:
        click.echo(f"  {key}")
    click.echo(f"captures missing their file: {len(report.missing_originals)}")
    for uuid in report.missing_originals:
        click.echo(f"  {uuid}")
    click.echo(f"captures missing their columnar copy: {len(report.missing_columnar)}")
    click.echo(
        f"captures without their plot pyramid (built by --repair): "
        f"{len(report.missing_plot_pyramids)}"
    )
    click.echo(f"dataset version files missing: {len(report.missing_pinned)}")
    for pinned in report.missing_pinned[:100]:
        click.echo(f"  {pinned}")
    click.echo(f"projects whose capture count is wrong: {len(report.wrong_counts)}")
    for uuid, (kept, counted) in report.wrong_counts.items():
        click.echo(f"  {uuid}: {kept} kept, {counted} counted")
    click.echo(
        f"metadata values with a wrong copy of their capture's date: {report.misdated_metadata}"
    )
    click.echo(f"stale temporary files: {report.stale_temp_files}")
    if report.loose_permissions:
        done = "made private" if repair else "run fsck --repair to make them private"
        click.echo(
            f"warning: files or folders other users can read: {len(report.loose_permissions)} "
            f"({done})"
        )
        for path in report.loose_permissions[:20]:
            click.echo(f"  {path}")
    if report.clean:
        click.echo("clean")
    elif repair:
        click.echo("repaired")
    else:
        raise SystemExit(1)
