"""What every request and job needs: settings, database, blob store, job queue and the
jobs registered behind it (built by ``runtime.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from capturehub.server.db import Database
from capturehub.server.settings import Settings
from capturehub.storage import BlobStore

if TYPE_CHECKING:
    from capturehub.tasks import JobQueue, JobRegistry


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: BlobStore
    jobs: JobQueue
    # The functions behind job names, registered by capturehub.server.runtime.
    registry: JobRegistry
    # Ids of the captures this process's workers have claimed and not yet finished
    # (captures/processing.py): a prompt stop hands them back instead of waiting for them.
    claimed: set[int] = field(default_factory=set)


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def context_dependency(request: Request) -> AppContext:
    """:func:`get_context` as a route dependency. FastAPI runs a plain ``def`` dependency in a
    worker thread, and each such hop (a queue, a thread woken, the loop woken back) cost more
    than the attribute read itself: declared ``async``, it runs on the event loop at once."""
    return get_context(request)
