"""Named jobs: a job is a name plus JSON-able arguments, run by the function registered under
that name.

Names and plain arguments (not Python callables) are what a queue carries, so the same job can
be delivered by the in-process thread pool or, later, by a broker to another process; each
process registers the same functions once at start-up (see ``capturehub.server.runtime``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

JobArguments = Mapping[str, Any]
JobFunction = Callable[..., None]


class UnknownJob(LookupError):
    """No function is registered under the job's name."""


@dataclass(frozen=True)
class Job:
    """One unit of work: the registered name and its keyword arguments (JSON values only)."""

    name: str
    arguments: JobArguments

    @property
    def identity(self) -> str:
        """Equal for two deliveries of the same work, whatever the order of the arguments."""
        return json.dumps([self.name, self.arguments], sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class _Registered:
    function: JobFunction
    cleanup: bool


class JobRegistry:
    """The functions behind job names, registered once per process."""

    def __init__(self) -> None:
        self._jobs: dict[str, _Registered] = {}
        self._lock = threading.Lock()

    def register(self, name: str, function: JobFunction, *, cleanup: bool = False) -> None:
        """Run ``function(**arguments)`` for jobs named ``name``.

        ``cleanup`` marks a cheap job nothing else would redo (deleting files whose rows are
        gone): a queue without workers runs it at once instead of leaving it undone.
        """
        with self._lock:
            if name in self._jobs:
                raise ValueError(f"a job named {name!r} is already registered")
            self._jobs[name] = _Registered(function, cleanup)

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def names(self) -> list[str]:
        return sorted(self._jobs)

    def is_cleanup(self, name: str) -> bool:
        return self._registered(name).cleanup

    def run(self, job: Job) -> None:
        self._registered(job.name).function(**job.arguments)

    def _registered(self, name: str) -> _Registered:
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJob(f"no job is registered under the name {name!r}") from None


def check_arguments(arguments: JobArguments) -> dict[str, Any]:
    """The arguments as a plain dict, refusing what a queue could not carry (not JSON)."""
    try:
        return dict(json.loads(json.dumps(dict(arguments))))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"job arguments must be JSON values: {exc}") from None
