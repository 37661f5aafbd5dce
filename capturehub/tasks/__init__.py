"""The job layer: deliver named jobs ("process capture", "delete blobs") to a worker.

A job is a name plus JSON-able arguments; each process registers the functions behind the
names once (:class:`JobRegistry`). For processing, the capture row's ``task_state`` is the
source of truth; a queue is only a way to deliver the message, so losing one is harmless (the
requeuer finds the capture again) and delivering one twice is too (the job claims the capture
atomically). The embedded default runs jobs on a thread pool inside ``capturehub serve``; a
broker can deliver the same jobs to ``capturehub worker`` processes on other machines.
"""

from capturehub.tasks.queue import InProcessQueue, JobQueue, QueueUnavailable
from capturehub.tasks.registry import Job, JobArguments, JobRegistry, UnknownJob

__all__ = [
    "InProcessQueue",
    "Job",
    "JobArguments",
    "JobQueue",
    "JobRegistry",
    "QueueUnavailable",
    "UnknownJob",
]
