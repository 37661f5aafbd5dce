"""The job layer: deliver "process capture X" to a worker.

The capture row's ``task_state`` is the source of truth; a queue is only a way to deliver the
message, so losing one is harmless (the requeuer finds the capture again) and delivering one
twice is too (the job claims the capture atomically). The embedded default runs jobs on a
thread pool inside ``capturehub serve``; a Celery queue can deliver the same job to
``capturehub worker`` processes on other machines.
"""

from capturehub.tasks.queue import InProcessQueue, JobQueue

__all__ = ["InProcessQueue", "JobQueue"]
