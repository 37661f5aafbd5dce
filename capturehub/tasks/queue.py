"""Job queues: the interface and the in-process thread pool."""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("capturehub.tasks")

Job = Callable[[int], None]


class JobQueue(abc.ABC):
    """Delivers capture ids to a job function."""

    @abc.abstractmethod
    def enqueue(self, capture_id: int) -> None: ...

    def start(self) -> None:  # noqa: B027 - optional hook
        """Begin delivering (called once when the server starts)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop delivering and wait for running jobs (called when the server stops)."""


class InProcessQueue(JobQueue):
    """Runs jobs on a pool of threads in this process.

    Parsing (pyarrow, numpy) releases the GIL, so threads use both cores while keeping the
    request handlers responsive. A capture already queued here is not queued twice.
    """

    def __init__(self, job: Job, workers: int) -> None:
        self._job = job
        # 0 workers: this server only stores uploads; another process (a second server or a
        # `capturehub worker`) processes them.
        self._workers = max(0, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._queued: set[int] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._pool is None and self._workers:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="capturehub-job")

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def enqueue(self, capture_id: int) -> None:
        if not self._workers:
            return
        self.start()
        with self._lock:
            if capture_id in self._queued:
                return
            self._queued.add(capture_id)
        assert self._pool is not None
        try:
            self._pool.submit(self._run, capture_id)
        except RuntimeError:  # shutting down: the requeuer picks it up after the restart
            with self._lock:
                self._queued.discard(capture_id)

    def _run(self, capture_id: int) -> None:
        with self._lock:
            self._queued.discard(capture_id)
        try:
            self._job(capture_id)
        except Exception:
            log.exception("job for capture %s failed", capture_id)

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queued)
