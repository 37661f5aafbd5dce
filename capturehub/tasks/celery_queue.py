"""Job delivery through Celery on Redis: servers enqueue, ``capturehub worker`` processes run.

Every job travels as one Celery task, ``capturehub.job``, whose arguments are the job's name
and its JSON arguments; the worker runs it through the same :class:`JobRegistry` as the
in-process pool, so both deliver exactly the same named jobs.

Delivery is at least once, never exactly once, and that is by design: the capture row's claim
and lease (``captures/processing.py``) decide who processes a capture, so a job delivered twice
finds the capture taken or done and returns. The settings below only make loss unlikely:

- ``acks_late``: a message is acknowledged after its job ran, not when it is received, so a
  worker that dies mid-job leaves it unacknowledged;
- Redis gives an unacknowledged message to another worker after the visibility timeout
  (``CAPTUREHUB_JOB_VISIBILITY_TIMEOUT_SECONDS``, above the longest job); sooner than that,
  the housekeeping finds the capture STARTED with an expired lease and queues it again;
- ``reject_on_worker_lost``: a pool process that dies returns its message at once (the worker
  runs jobs on threads, where a death takes the whole worker and the two paths above apply);
- a job that raises is retried with exponential backoff (a database or store that did not
  answer), up to :data:`MAX_RETRIES` times; then the housekeeping is the retry.

A marker key per queued job (``SET NX`` with the visibility timeout as its lifetime) keeps the
housekeeping from queueing a capture again while its first message still waits, as the
in-process pool's set of queued jobs does; the worker drops the marker when the job starts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from typing import Any

import redis
from celery import Celery, Task
from kombu.exceptions import OperationalError as BrokerError

from capturehub.tasks.memory import release_memory
from capturehub.tasks.queue import JobQueue, QueueUnavailable
from capturehub.tasks.registry import Job, JobArguments, JobRegistry, UnknownJob, check_arguments

log = logging.getLogger("capturehub.tasks")

TASK_NAME = "capturehub.job"
QUEUE_NAME = "capturehub"
MARKER_PREFIX = "capturehub:queued:"
MAX_RETRIES = 8
# Seconds a publish or a check may wait for Redis before the request gets its 503.
BROKER_TIMEOUT = 5.0

_UNREACHABLE = (redis.RedisError, BrokerError, OSError)


def celery_app(broker_url: str, *, visibility_timeout: float) -> Celery:
    """The Celery application of servers and workers (no result backend: the capture row is
    where results go)."""
    app = Celery("capturehub", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_default_queue=QUEUE_NAME,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message at a time per job slot: a long file does not hold others back.
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        broker_connection_retry_on_startup=True,
        # A Redis restart must not end the workers: reconnect for as long as it takes.
        broker_connection_max_retries=None,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            "socket_timeout": BROKER_TIMEOUT,
            "socket_connect_timeout": BROKER_TIMEOUT,
        },
        # Publishing: a few quick tries, then the caller learns the broker is unreachable.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
    )
    return app


class CeleryQueue(JobQueue):
    """Sends named jobs to Celery on Redis; :meth:`run_worker` runs them in this process."""

    def __init__(self, registry: JobRegistry, broker_url: str, *, visibility_timeout: float):
        self._registry = registry
        self._marker_lifetime = max(int(visibility_timeout), 1)
        self.app = celery_app(broker_url, visibility_timeout=visibility_timeout)
        self._redis = redis.Redis.from_url(
            broker_url, socket_timeout=BROKER_TIMEOUT, socket_connect_timeout=BROKER_TIMEOUT
        )

        def run_job(name: str, arguments: dict[str, Any]) -> None:
            self._deliver(name, arguments)

        self._task: Task = self.app.task(
            name=TASK_NAME,
            acks_late=True,
            reject_on_worker_lost=True,
            autoretry_for=(Exception,),
            dont_autoretry_for=(UnknownJob,),
            retry_backoff=2,
            retry_backoff_max=300,
            retry_jitter=True,
            max_retries=MAX_RETRIES,
        )(run_job)

    # -- sending ------------------------------------------------------------------------------

    def check_available(self) -> None:
        try:
            self._redis.ping()
        except _UNREACHABLE as exc:
            raise QueueUnavailable(f"the job broker does not answer: {exc}") from exc

    def enqueue(self, name: str, arguments: JobArguments) -> None:
        job = Job(name, check_arguments(arguments))
        if name not in self._registry:  # fail in the caller, not later in a worker
            raise UnknownJob(f"no job is registered under the name {name!r}")
        marker = _marker(job)
        try:
            if not self._redis.set(marker, b"1", nx=True, ex=self._marker_lifetime):
                return  # queued already, not started yet
            try:
                self.send(job)
            except BaseException:
                self._redis.delete(marker)
                raise
        except _UNREACHABLE as exc:
            raise QueueUnavailable(f"the job broker does not answer: {exc}") from exc

    def send(self, job: Job) -> None:
        """Publish one message for ``job``, whether or not one is queued already."""
        self._task.apply_async(args=(job.name, dict(job.arguments)), retry=True)

    # -- running ------------------------------------------------------------------------------

    def _deliver(self, name: str, arguments: dict[str, Any]) -> None:
        job = Job(name, arguments)
        try:
            # From now on a lost run is found by the housekeeping (the capture's lease), so
            # queueing the job again must be possible.
            self._redis.delete(_marker(job))
        except redis.RedisError:
            log.warning("could not clear the queued marker of job %r", name)
        try:
            self._registry.run(job)
        except UnknownJob:
            log.error("job %r is not known to this worker (an older version?); dropped", name)
        except Exception:
            log.warning("job %r %s failed; retrying", name, arguments, exc_info=True)
            raise
        finally:
            # A worker lives for many jobs: what one job's peak left in the allocators
            # would add to the next one's (tasks/memory.py).
            release_memory()

    def run_worker(self, *, concurrency: int, loglevel: str = "INFO") -> int:
        """Run jobs from the broker on ``concurrency`` threads until SIGTERM or SIGINT (warm
        shutdown: running jobs finish, messages not yet started go back to the queue).
        Returns the exit code."""
        worker = self.app.Worker(
            hostname=f"capturehub-{os.getpid()}@{socket.gethostname()}",
            pool="threads",
            concurrency=max(1, concurrency),
            loglevel=loglevel,
            queues=[QUEUE_NAME],
            without_gossip=True,
            without_mingle=True,
            without_heartbeat=True,
            optimization="fair",
            quiet=True,
        )
        worker.start()
        return int(worker.exitcode or 0)

    def stop(self) -> None:
        self._redis.close()


def _marker(job: Job) -> str:
    return MARKER_PREFIX + hashlib.sha256(job.identity.encode()).hexdigest()[:32]
