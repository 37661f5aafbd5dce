"""The cluster's periodic chores, run in a background thread of every process (servers and
workers) but by one of them at a time: the holder of the housekeeping lease.

The lease is a row of the database (``housekeeping_lease``), taken with one conditional UPDATE
as a capture is claimed, so it works the same on SQLite and PostgreSQL and needs nothing that
the servers do not share already (Celery beat would be one more process to run exactly once).
The holder renews it at every pass; when the holder dies, another process takes it over once
it has run out (three passes' time). A pass that ran twice, during a takeover, is harmless:
queueing a capture again is a no-op for the job, and refreshing statistics is idempotent.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading

from sqlalchemy import func, select, update

from capturehub.server import leases
from capturehub.server.captures.processing import pending_captures
from capturehub.server.context import AppContext
from capturehub.server.jobs import process_capture_later
from capturehub.server.models import Capture, HousekeepingLease
from capturehub.server.recording.service import stop_idle_recordings
from capturehub.tasks import QueueUnavailable

log = logging.getLogger("capturehub.server")

LEASE = "housekeeping"


class Housekeeping:
    """- queue captures left SENT, or STARTED by a worker whose lease ran out (a crash, a lost
      queue message): the capture row, not the queue, is the source of truth;
    - refresh the database's planner statistics when the number of captures has grown by a
      tenth since the last time;
    - stop live recordings idle for longer than their timeout, and finish stops a crash
      interrupted (server/recording/service.py).

    At start, every process queues what is pending once, whoever holds the lease: a server
    restarted after a crash must not wait for the lease of its former self to run out.
    """

    def __init__(self, context: AppContext) -> None:
        self._context = context
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="capturehub-chores")
        self._captures_at_last_analyze = -1
        self._statistics_seen = -1
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    @property
    def lease_seconds(self) -> float:
        return max(3 * self._context.settings.requeue_interval_seconds, 10.0)

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
        with self._context.db.session() as session:
            session.execute(
                update(HousekeepingLease)
                .where(HousekeepingLease.name == LEASE)
                .values(statistics_generation=HousekeepingLease.statistics_generation + 1)
            )
            self._statistics_seen = -1  # read back at the next pass, like everyone else
        return True

    def take_lease(self) -> bool:
        """Take or renew the lease; False while another live process holds it."""
        return leases.take_lease(self._context.db, LEASE, self.holder, self.lease_seconds)

    def release_lease(self) -> None:
        """Let another process take over at its next pass (this one is stopping)."""
        leases.release_lease(self._context.db, LEASE, self.holder)

    def follow_statistics(self) -> None:
        """Re-read SQLite's planner statistics when the lease's holder refreshed them."""
        with self._context.db.read() as session:
            generation = session.scalar(
                select(HousekeepingLease.statistics_generation).where(
                    HousekeepingLease.name == LEASE
                )
            )
        if generation is None or generation == self._statistics_seen:
            return
        if self._statistics_seen >= 0:
            self._context.db.reload_planner_statistics()
        self._statistics_seen = generation

    def run_once(self) -> bool:
        """One pass if this process holds (or takes) the lease; True if it ran."""
        if not self.take_lease():
            self.follow_statistics()
            return False
        queued = self.requeue()
        if queued:
            log.info("queued %d captures left unprocessed", queued)
        stopped = stop_idle_recordings(self._context)
        if stopped:
            log.info("stopped %d idle recordings", stopped)
        self.refresh_statistics()
        self.follow_statistics()
        return True

    def start(self) -> None:
        """Queue what is pending (in every process), take part in the periodic passes."""
        if not self.run_once():
            queued = self.requeue()
            if queued:
                log.info("queued %d captures left unprocessed", queued)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.release_lease()
        except Exception:  # stopping anyway: the lease runs out by itself
            log.warning("could not release the housekeeping lease", exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self._context.settings.requeue_interval_seconds):
            try:
                self.run_once()
            except Exception:
                log.exception("housekeeping pass failed")
