"""What every request and job needs: settings, database, blob store and job queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from capturehub.server.db import Database
from capturehub.server.settings import Settings
from capturehub.storage import BlobStore

if TYPE_CHECKING:
    from capturehub.tasks.queue import JobQueue


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: BlobStore
    jobs: JobQueue


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context
