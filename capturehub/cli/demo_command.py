"""``capturehub demo``: a server on this machine with a labelled dataset, in one command.

The server runs in this process (uvicorn in a thread, the server's defaults: SQLite and files
in the data folder, processing in threads); the dataset is imported through the SDK over HTTP,
as any client would, so the demo also shows the path a user's own data takes. A second run on
the same folder reuses the user and finds the dataset already there.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from capturehub.cli.demo_data import find_watch_dataset, generate_dataset
from capturehub.cli.errors import CliError
from capturehub.cli.output import stderr_console, stdout_console
from capturehub.cli.progress import STAGES, StageProgress
from capturehub.client import Client
from capturehub.datamanager.dataset import ImportEvent, ImportReport

if TYPE_CHECKING:
    import uvicorn

    from capturehub.server.context import AppContext

PROJECT = "demo"
USER = "demo"
CREDENTIALS_FILE = "demo-credentials.json"


@click.command()
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--data",
    "dataset",
    type=click.Path(exists=True, path_type=Path),
    help="The dataset to import: a manifest (watch-style or SensiML DCLI JSON) or a folder "
    "holding manifest.json. Default: ../shared/data/watch when present, else a generated one.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("capturehub-demo"),
    show_default=True,
    help="The server's data folder (database, files, the demo user's password).",
)
def demo(port: int, host: str, dataset: Path | None, data_dir: Path) -> None:
    """Start a local server with a labelled demo dataset, and keep it running.

    \b
    Creates the user `demo` (its password is printed and saved in the data folder),
    imports a dataset with metadata and segments into the project `demo`, prints the
    Python that lists it, and serves until Ctrl-C. The dataset is the watch recordings
    (../shared/data/watch, beside this folder or the capturehub checkout) when present,
    else a generated one of the same shape. Needs `pip install 'capturehub[server]'`.
    Examples:
      capturehub demo
      capturehub demo --port 9000 --data-dir /tmp/capturehub-demo
      capturehub demo --data my-dataset/manifest.json
    """
    console = stderr_console()
    manifest = _manifest(dataset, data_dir)
    _check_port(host, port)
    context = _server_context(data_dir)
    username, password = _demo_user(context, data_dir)
    server, thread = _start_server(context, host, port)
    url = f"http://{host}:{port}/"
    _stop_on_sigterm()
    try:
        report = _import(url, username, password, manifest)
        _print_welcome(url, username, password, data_dir, report)
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        handed_back = _stop(context, server, thread)
    if handed_back:
        console.print(
            f"Stopped. {handed_back} capture(s) were still being processed: they are "
            "processed again at the next start."
        )
    else:
        console.print("Stopped.")
    if _jobs_running(context):
        # The jobs still running were handed back above (their captures are SENT again) or
        # can wait (a missing plot pyramid: the plot reads the columnar copy until
        # `capturehub fsck --repair` builds it). Leave now rather than let the interpreter
        # wait for their threads, as it does for every thread pool's at exit: what they were
        # writing is left as a crash leaves it, which the processing is built to survive.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _stop(context: AppContext, server: uvicorn.Server, thread: threading.Thread) -> int:
    """Stop serving without waiting for running jobs; answer how many captures in processing
    were handed back to be processed at the next start.

    Waiting would make Ctrl-C take as long as the longest running job (a large file's
    processing, seconds to minutes on a loaded machine). The jobs not yet started are dropped:
    their captures are still SENT, and the next start queues every SENT capture."""
    from capturehub.server.captures.processing import release_claims
    from capturehub.tasks import InProcessQueue

    if isinstance(context.jobs, InProcessQueue):
        context.jobs.stop(wait=False)
    try:
        handed_back = release_claims(context)
    except Exception:  # the database is unavailable: the claims run out by themselves
        handed_back = 0
    server.should_exit = True
    thread.join(30)
    return handed_back


def _jobs_running(context: AppContext) -> bool:
    from capturehub.tasks import InProcessQueue

    return isinstance(context.jobs, InProcessQueue) and context.jobs.running > 0


def _manifest(dataset: Path | None, data_dir: Path) -> Path:
    if dataset is not None:
        manifest = dataset / "manifest.json" if dataset.is_dir() else dataset
        if not manifest.is_file():
            raise CliError(f"no manifest.json in {dataset}", "pass the manifest file itself")
        return manifest
    watch = find_watch_dataset()
    if watch is not None:
        stderr_console().print(f"Dataset: the watch recordings in {watch.parent}.")
        return watch
    folder = data_dir / "generated-dataset"
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        manifest = generate_dataset(folder)
    stderr_console().print(
        f"Dataset: the watch recordings were not found, so a GENERATED dataset of the same "
        f"shape is used ({folder})."
    )
    return manifest


def _check_port(host: str, port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CliError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                "another server may be running there; pick another port with --port",
            ) from exc


def _server_context(data_dir: Path) -> AppContext:
    try:
        from capturehub.server.db import upgrade
        from capturehub.server.runtime import build_context
        from capturehub.server.settings import Settings
    except ImportError as exc:
        raise CliError(
            "the demo runs a server, which is not installed",
            "run: pip install 'capturehub[server]'",
        ) from exc
    context = build_context(Settings(data_dir=data_dir))
    upgrade(context.db.engine)
    return context


def _demo_user(context: AppContext, data_dir: Path) -> tuple[str, str]:
    """The demo user's name and password, created on the first run and saved (mode 0600)."""
    from capturehub.server.auth import service
    from capturehub.server.errors import APIError

    saved = data_dir / CREDENTIALS_FILE
    if saved.is_file():
        body = json.loads(saved.read_text())
        return str(body["username"]), str(body["password"])
    password = secrets.token_urlsafe(12)
    username = USER
    for attempt in range(5):
        try:
            with context.db.session() as session:
                service.create_user(session, username, password, PROJECT)
            break
        except APIError:  # taken (e.g. the credentials file was deleted): use another name
            username = f"{USER}-{secrets.token_hex(2)}"
            if attempt == 4:
                raise
    descriptor = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as output:
        json.dump({"username": username, "password": password}, output)
    return username, password


def _start_server(
    context: AppContext, host: str, port: int
) -> tuple[uvicorn.Server, threading.Thread]:
    import uvicorn

    from capturehub.server.app import create_app

    config = uvicorn.Config(create_app(context=context), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="capturehub-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise CliError(f"the server did not start on {host}:{port}", "see the messages above")
        time.sleep(0.05)
    return server, thread


def _stop_on_sigterm() -> None:
    """SIGTERM stops the demo as Ctrl-C does (the server finishes its requests first)."""

    def interrupt(_signal: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _import(url: str, username: str, password: str, manifest: Path) -> ImportReport:
    """Import the dataset into project ``demo`` through the SDK, showing each stage."""

    def show(event: ImportEvent) -> None:
        if event.stage in STAGES:
            stages.update(event.stage, event.done, event.total)

    with Client(server=url, username=username, password=password, project=PROJECT) as client:
        stages = StageProgress()
        try:
            return client.project.captures.import_dataset(manifest, workers=4, progress=show)
        finally:
            stages.stop()


def _print_welcome(
    url: str, username: str, password: str, data_dir: Path, report: ImportReport
) -> None:
    console = stdout_console()
    console.print(
        f"\n[bold]capturehub demo[/bold] is running at {url} (data in {escape(str(data_dir))}).\n"
        f"  user: {username}\n  password: {escape(password)}  "
        f"(saved in {escape(str(data_dir / CREDENTIALS_FILE))})\n"
        f"  project {PROJECT!r}: {escape(report.summary())}\n"
    )
    if report.failed:
        for name, message in list(report.failed.items())[:5]:
            console.print(f"  [red]failed[/red] {escape(name)}: {escape(message)}")
    console.print("List the captures from Python:\n")
    console.print(
        "    from capturehub import Client\n"
        f"    client = Client(server={url!r}, username={username!r}, password={password!r}, "
        f"project={PROJECT!r})\n"
        '    print(client.list_captures()[["name", "number_samples", "task_state"]])\n',
        markup=False,
        highlight=False,
    )
    console.print(
        "Or from the shell:\n\n"
        f"    capturehub login --server {url} --username {username}\n"
        f"    capturehub ls --project {PROJECT} --where Subject=S01\n",
        markup=False,
    )
    console.print("Press Ctrl-C to stop.")
