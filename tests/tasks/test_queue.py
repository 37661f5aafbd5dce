"""Named jobs through the in-process queue: any registered job runs, by name and JSON
arguments; the same job queued twice runs once; without workers only cleanups run."""

from __future__ import annotations

import threading

import pytest

from capturehub.tasks import InProcessQueue, JobRegistry, UnknownJob


def test_a_second_registered_job_runs_with_its_arguments() -> None:
    registry = JobRegistry()
    done = threading.Event()
    received: list[tuple[str, list[int]]] = []
    registry.register("process capture", lambda capture_id: None)

    def greet(name: str, numbers: list[int]) -> None:
        received.append((name, numbers))
        done.set()

    registry.register("greet", greet)
    queue = InProcessQueue(registry, workers=1)
    queue.start()
    try:
        queue.enqueue("greet", {"name": "ada", "numbers": [1, 2]})
        assert done.wait(10)
    finally:
        queue.stop()
    assert received == [("ada", [1, 2])]
    assert registry.names() == ["greet", "process capture"]


def test_a_job_already_queued_is_not_queued_again() -> None:
    registry = JobRegistry()
    release = threading.Event()
    started = threading.Event()
    runs: list[int] = []
    both = threading.Semaphore(0)

    def block(capture_id: int) -> None:
        started.set()
        release.wait(10)

    def count(capture_id: int) -> None:
        runs.append(capture_id)
        both.release()

    registry.register("block", block)
    registry.register("process capture", count)
    queue = InProcessQueue(registry, workers=1)
    try:
        queue.enqueue("block", {"capture_id": 0})  # occupies the only worker
        assert started.wait(10)
        for _ in range(3):
            queue.enqueue("process capture", {"capture_id": 7})
        queue.enqueue("process capture", {"capture_id": 8})
        assert queue.queued == 2  # capture 7 once, capture 8
        release.set()
        assert both.acquire(timeout=10) and both.acquire(timeout=10)
    finally:
        queue.stop()
    assert sorted(runs) == [7, 8]


def test_without_workers_jobs_wait_for_another_process_but_cleanups_run_now() -> None:
    registry = JobRegistry()
    runs: list[str] = []
    registry.register("process capture", lambda capture_id: runs.append("process"))
    registry.register("delete blobs", lambda keys: runs.append(f"delete {keys}"), cleanup=True)
    queue = InProcessQueue(registry, workers=0)
    queue.start()
    queue.enqueue("process capture", {"capture_id": 1})
    queue.enqueue("delete blobs", {"keys": ["a"]})
    queue.stop()
    assert runs == ["delete ['a']"]


def test_unknown_names_and_arguments_a_queue_cannot_carry_are_refused() -> None:
    registry = JobRegistry()
    registry.register("process capture", lambda capture_id: None)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("process capture", lambda capture_id: None)
    queue = InProcessQueue(registry, workers=1)
    try:
        with pytest.raises(UnknownJob, match="no job is registered under the name 'nope'"):
            queue.enqueue("nope", {})
        with pytest.raises(TypeError, match="JSON"):
            queue.enqueue("process capture", {"capture_id": object()})
    finally:
        queue.stop()
