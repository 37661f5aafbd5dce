"""The server's periodic chores, run in a background thread by the runtime."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import func, select

from capturehub.server.captures.processing import pending_captures
from capturehub.server.context import AppContext
from capturehub.server.jobs import process_capture_later
from capturehub.server.models import Capture
from capturehub.tasks import QueueUnavailable

log = logging.getLogger("capturehub.server")


class Housekeeping:
    """- queue captures left SENT, or STARTED by a worker whose lease ran out (a crash, a lost
      queue message): the capture row, not the queue, is the source of truth;
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
        for queued, capture_id in enumerate(ids):
            try:
                process_capture_later(self._context.jobs, capture_id)
            except QueueUnavailable as exc:
                # The rows still say SENT: the next pass tries again.
                log.warning("the job broker did not answer, %d captures wait: %s", len(ids), exc)
                return queued
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
