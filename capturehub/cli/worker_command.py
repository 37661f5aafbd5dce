"""``capturehub worker``: runs the server's jobs delivered by Celery, without the HTTP app.

It is built on the same :class:`~capturehub.server.runtime.Runtime` as ``capturehub serve``
(settings, database, blob store, registered jobs, housekeeping), so a job runs here exactly as
it would in a server's in-process pool.
"""

from __future__ import annotations

from pathlib import Path

import click

from capturehub.cli.server_commands import DATA_DIR_HELP, _settings, check_storage


@click.command("worker")
@click.option(
    "--concurrency",
    type=int,
    help="Jobs run at once, on threads (default: CAPTUREHUB_WORKERS, 2).",
)
@click.option("--data-dir", type=click.Path(path_type=Path), help=DATA_DIR_HELP)
def worker(concurrency: int | None, data_dir: Path | None) -> None:
    """Process uploads queued on the broker (CAPTUREHUB_BROKER_URL) by `capturehub serve`.

    \b
    Start as many as the machines allow, each with the same CAPTUREHUB_* settings as the
    servers (database, storage, broker). Stop with SIGTERM: running jobs finish first; a
    worker killed mid-job loses nothing (its captures are processed again elsewhere).
    Example:
      CAPTUREHUB_BROKER_URL=redis://127.0.0.1:6379/0 \\
      CAPTUREHUB_DATABASE_URL=postgresql+psycopg://me@db/capturehub capturehub worker
    """
    from capturehub.server.permissions import make_private
    from capturehub.server.runtime import Runtime
    from capturehub.tasks.celery_queue import CeleryQueue

    settings = _settings(data_dir)
    if not settings.broker_url:
        raise click.ClickException(
            "capturehub worker needs a broker: set CAPTUREHUB_BROKER_URL=redis://host:6379/0 "
            "(the same as the servers'). Without one, `capturehub serve` processes uploads "
            "itself."
        )
    threads = concurrency if concurrency is not None else settings.workers
    if threads < 1:
        raise click.ClickException("--concurrency must be at least 1")
    if settings.database_pool_size is None:
        # No request threads here: per job one connection and one for its lease renewal, plus
        # the housekeeping and a spare.
        settings.database_pool_size = 2 * threads + 2
    make_private()
    runtime = Runtime.from_settings(settings)
    check_storage(runtime.context)
    jobs = runtime.context.jobs
    assert isinstance(jobs, CeleryQueue)
    runtime.start()
    click.echo(
        f"capturehub worker: {threads} job threads, database "
        f"{settings.effective_database_url.split(':')[0]}, data in {settings.data_dir.resolve()}"
    )
    try:
        code = jobs.run_worker(concurrency=threads)
    finally:
        runtime.stop()
    raise SystemExit(code)
