"""Builds the ASGI application: routes of every feature, error handlers, the job runner."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import func, select

from capturehub._version import __version__
from capturehub.server.allow import install_allow_header
from capturehub.server.auth.routes import router as auth_router
from capturehub.server.captures.processing import pending_captures, process_capture
from capturehub.server.captures.routes import router as captures_router
from capturehub.server.configurations.routes import router as configurations_router
from capturehub.server.context import AppContext
from capturehub.server.db import Database, upgrade
from capturehub.server.errors import install_error_handlers
from capturehub.server.guard import RequestGuard
from capturehub.server.labels.routes import router as labels_router
from capturehub.server.meta.routes import router as meta_router
from capturehub.server.metadata.routes import router as metadata_router
from capturehub.server.models import Capture
from capturehub.server.openapi import install_openapi
from capturehub.server.paths import NormalizePath
from capturehub.server.projects.routes import router as projects_router
from capturehub.server.segments.routes import router as segments_router
from capturehub.server.settings import Settings
from capturehub.server.statistics.routes import router as statistics_router
from capturehub.storage import LocalBlobStore
from capturehub.tasks import InProcessQueue, JobQueue

log = logging.getLogger("capturehub.server")

# Order matters: the metadata router's `project/{p}/capture/metadata/...` query route must be
# matched before the captures router's `project/{p}/capture/{capture_uuid}/...` routes.
ROUTERS = [
    meta_router,
    auth_router,
    projects_router,
    labels_router,
    metadata_router,
    segments_router,
    configurations_router,
    statistics_router,
    captures_router,
]


def build_context(settings: Settings, jobs: JobQueue | None = None) -> AppContext:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    blobs = LocalBlobStore(settings.blob_dir)
    # The in-process queue's job needs the context that holds the queue: bind it late.
    bound: list[AppContext] = []
    queue = jobs or InProcessQueue(
        lambda capture_id: process_capture(bound[0], capture_id), settings.workers
    )
    context = AppContext(settings=settings, db=db, blobs=blobs, jobs=queue)
    bound.append(context)
    return context


class Housekeeping:
    """The server's periodic chores, in a background thread:

    - queue captures left SENT, or STARTED by a worker whose lease ran out (a crash, a lost
      queue message);
    - refresh the database's planner statistics when the number of captures has grown by a
      tenth since the last time.
    """

    def __init__(self, context: AppContext) -> None:
        self._context = context
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="capturehub-chores")
        self._captures_at_last_analyze = -1

    def requeue(self) -> int:
        ids = pending_captures(self._context)
        for capture_id in ids:
            self._context.jobs.enqueue(capture_id)
        return len(ids)

    def refresh_statistics(self) -> bool:
        with self._context.db.read() as session:
            captures = session.scalar(select(func.count()).select_from(Capture)) or 0
        last = self._captures_at_last_analyze
        if last >= 0 and captures <= last * 1.1 + 100:
            return False
        self._context.db.refresh_planner_statistics()
        self._captures_at_last_analyze = captures
        return True

    def run_once(self) -> None:
        queued = self.requeue()
        if queued:
            log.info("queued %d captures left unprocessed", queued)
        self.refresh_statistics()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._context.settings.requeue_interval_seconds):
            try:
                self.run_once()
            except Exception:
                log.exception("housekeeping pass failed")


def create_app(
    settings: Settings | None = None, context: AppContext | None = None, *, migrate: bool = True
) -> FastAPI:
    """The ASGI app. ``migrate=False`` when the caller has already brought the database to the
    newest schema (``capturehub serve`` does, to create the first user before serving)."""
    settings = settings or (context.settings if context else Settings())
    context = context or build_context(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            upgrade(context.db.engine)
        context.jobs.start()
        chores = Housekeeping(context)
        chores.run_once()
        chores.start()
        try:
            yield
        finally:
            chores.stop()
            context.jobs.stop()
            context.db.dispose()

    app = FastAPI(
        title="capturehub",
        version=__version__,
        description="Stores, processes and serves sensor-data captures. Wire-compatible with "
        "the SensiML Python SDK.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.context = context
    install_error_handlers(app)
    install_allow_header(app)
    for router in ROUTERS:
        app.include_router(router)
    install_openapi(app)
    app.add_middleware(RequestGuard)
    app.add_middleware(NormalizePath, prefix=settings.normalized_root_path)
    return app
