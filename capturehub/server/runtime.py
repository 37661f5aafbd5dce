"""The composition root: builds the database, blob store and job queue from the settings,
registers the jobs, and runs the housekeeping.

Everything that chooses an implementation (SQLite or PostgreSQL, local disk, the in-process
queue or Celery) is chosen here and nowhere else. The HTTP app (``app.py``) and any process
without it (``capturehub fsck``, the demo, ``capturehub worker``) start from :class:`Runtime`
or :func:`build_context`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

from capturehub.server.captures.processing import process_capture
from capturehub.server.context import AppContext
from capturehub.server.db import Database, upgrade
from capturehub.server.housekeeping import Housekeeping
from capturehub.server.jobs import (
    BUILD_PLOT_PYRAMID,
    DELETE_BLOBS,
    FREE_VERSION_FILES,
    PROCESS_CAPTURE,
    delete_blobs,
)
from capturehub.server.plots.building import build_plot_pyramid
from capturehub.server.settings import Settings
from capturehub.server.versions.pins import free_version_files
from capturehub.storage import BlobStore, LocalBlobStore
from capturehub.tasks import InProcessQueue, JobQueue, JobRegistry

UNFINISHED_UPLOAD_AGE_SECONDS = 24 * 3600

if TYPE_CHECKING:
    from capturehub.server.recording.mqtt.subscriber import MqttRecorder


def build_blob_store(settings: Settings) -> BlobStore:
    """The store CAPTUREHUB_STORAGE_URL names: a folder (default: the data directory's) or an
    S3 bucket and prefix."""
    url = settings.storage_url
    if url and url.startswith("s3://"):
        from capturehub.storage.s3 import S3BlobStore  # boto3 only when S3 is used

        return S3BlobStore.from_url(
            url,
            endpoint_url=settings.s3_endpoint_url,
            scratch_dir=settings.data_dir / "scratch",
            # One connection per request thread and per worker, so none waits for another.
            max_connections=settings.request_threads + 2 * settings.workers + 4,
            # Unfinished multipart uploads are aborted (capturehub fsck --repair) only after
            # a day: a 20 GB upload over a slow link may take hours.
            upload_min_age_seconds=UNFINISHED_UPLOAD_AGE_SECONDS,
        )
    if url:
        # The store's own scratch folder, inside it: storing a scratch file stays a rename.
        return LocalBlobStore(Path(url2pathname(urlsplit(url).path)))
    # Scratch files beside the blobs (same file system: storing one is a rename).
    return LocalBlobStore(settings.blob_dir, scratch_dir=settings.data_dir / "scratch")


def build_job_queue(settings: Settings, registry: JobRegistry) -> JobQueue:
    """The in-process pool, or Celery on the broker when CAPTUREHUB_BROKER_URL is set."""
    if settings.broker_url:
        # Imported here: only a cluster needs Celery loaded.
        from capturehub.tasks.celery_queue import CeleryQueue

        return CeleryQueue(
            registry,
            settings.broker_url,
            visibility_timeout=settings.job_visibility_timeout_seconds,
        )
    return InProcessQueue(registry, settings.workers)


def register_jobs(registry: JobRegistry, context: AppContext) -> None:
    """The functions behind the server's job names, bound to this process's context."""
    registry.register(PROCESS_CAPTURE, lambda capture_id: process_capture(context, capture_id))
    registry.register(
        BUILD_PLOT_PYRAMID, lambda capture_id: build_plot_pyramid(context, capture_id)
    )
    registry.register(
        DELETE_BLOBS,
        lambda keys=(), prefixes=(): delete_blobs(context.blobs, keys, prefixes),
        cleanup=True,
    )
    registry.register(
        FREE_VERSION_FILES,
        lambda originals=(): free_version_files(context, originals),
        cleanup=True,
    )


def build_context(settings: Settings, jobs: JobQueue | None = None) -> AppContext:
    """Database, blob store and job queue for ``settings``, with the jobs registered.

    ``jobs`` replaces the queue the settings choose (its deliveries must reach the same job
    names)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    registry = JobRegistry()
    context = AppContext(
        settings=settings,
        db=Database(
            settings.effective_database_url,
            pool_size=settings.effective_database_pool_size,
            pool_timeout=settings.database_pool_timeout_seconds,
        ),
        blobs=build_blob_store(settings),
        jobs=jobs or build_job_queue(settings, registry),
        registry=registry,
    )
    register_jobs(registry, context)
    return context


class Runtime:
    """A running capturehub process: its context, job delivery and housekeeping."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self._chores: Housekeeping | None = None
        self._mqtt: MqttRecorder | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        return cls(build_context(settings))

    def start(self, *, migrate: bool = True) -> None:
        """Bring the database up to date (unless done already), start delivering jobs, queue
        what a crash left unprocessed, then keep doing so periodically."""
        if migrate:
            upgrade(self.context.db.engine)
        self.context.jobs.start()
        self._chores = Housekeeping(self.context)
        self._chores.start()
        if self.context.settings.mqtt_url:
            from capturehub.server.recording.mqtt.subscriber import MqttRecorder

            self._mqtt = MqttRecorder(self.context)
            self._mqtt.start()

    def stop(self) -> None:
        if self._mqtt is not None:
            self._mqtt.stop()
            self._mqtt = None
        if self._chores is not None:
            self._chores.stop()
            self._chores = None
        self.context.jobs.stop()
        self.context.db.dispose()
