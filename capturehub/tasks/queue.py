"""Job queues: the interface and the in-process thread pool."""

from __future__ import annotations

import abc
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from capturehub.tasks.registry import (
    Job,
    JobArguments,
    JobRegistry,
    UnknownJob,
    check_arguments,
)

log = logging.getLogger("capturehub.tasks")


class QueueUnavailable(RuntimeError):
    """The queue cannot take jobs now (its broker does not answer); worth retrying later."""


class JobQueue(abc.ABC):
    """Delivers named jobs, ``(name, arguments)``, to the functions registered for them."""

    @abc.abstractmethod
    def enqueue(self, name: str, arguments: JobArguments) -> None:
        """Ask for job ``name`` to run with ``arguments`` (JSON values), at least once.

        Raises :class:`QueueUnavailable` when the job could not be handed over."""

    def check_available(self) -> None:  # noqa: B027 - optional hook
        """Raise :class:`QueueUnavailable` if a job enqueued now would be refused (asked
        before keeping something that needs a job, so a refusal keeps nothing)."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Begin delivering (called once when the server starts)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop delivering and wait for running jobs (called when the server stops)."""


class InProcessQueue(JobQueue):
    """Runs jobs on a pool of threads in this process.

    Parsing (pyarrow, numpy) releases the GIL, so threads use both cores while keeping the
    request handlers responsive. A job already queued here (same name and arguments, e.g. the
    processing of one capture) is not queued twice.
    """

    def __init__(self, registry: JobRegistry, workers: int) -> None:
        self._registry = registry
        # 0 workers: this server only stores uploads; another process (a second server or a
        # `capturehub worker`) processes them, finding them in the database.
        self._workers = max(0, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._queued: set[str] = set()
        self._running = 0
        self._stopped = False
        self._lock = threading.Lock()

    def start(self) -> None:
        self._stopped = False
        if self._pool is None and self._workers:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="capturehub-job")

    def stop(self, *, wait: bool = True) -> None:
        """Drop the jobs not started; ``wait=False`` does not wait for the running ones
        either (they go on in their threads until the process ends)."""
        self._stopped = True
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    @property
    def running(self) -> int:
        """Jobs running now."""
        with self._lock:
            return self._running

    def enqueue(self, name: str, arguments: JobArguments) -> None:
        job = Job(name, check_arguments(arguments))
        if not self._workers:
            # Nothing else would ever redo a cleanup (no row records it): do it now.
            if self._registry.is_cleanup(name):
                self._run_logged(job)
            return
        if name not in self._registry:  # fail in the caller, not later in a worker
            raise UnknownJob(f"no job is registered under the name {name!r}")
        if self._stopped:
            # A job still running after a stop that did not wait for it asks for its next
            # one: starting a new pool would outlive the stop. The requeuer finds the capture.
            return
        self.start()
        with self._lock:
            if job.identity in self._queued:
                return
            self._queued.add(job.identity)
        assert self._pool is not None
        try:
            self._pool.submit(self._run, job)
        except RuntimeError:  # shutting down: the requeuer picks it up after the restart
            with self._lock:
                self._queued.discard(job.identity)

    def _run(self, job: Job) -> None:
        with self._lock:
            self._queued.discard(job.identity)
            self._running += 1
        try:
            self._run_logged(job)
        finally:
            with self._lock:
                self._running -= 1

    def _run_logged(self, job: Job) -> None:
        try:
            self._registry.run(job)
        except Exception:
            log.exception("job %r %s failed", job.name, dict(job.arguments))

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queued)
