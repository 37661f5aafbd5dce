"""One rich progress display for many parallel transfers: files done, bytes, rate, ETA.

The SDK reports ``(local path, bytes so far)`` from each transfer's thread (its ``progress``
hook); :class:`TransferProgress` keeps the latest position per file, so a retried transfer
(which starts again from 0) is never counted twice, and shows the sum.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from capturehub.cli.output import stderr_console


class TransferProgress:
    """``with TransferProgress("Uploading", files=n, total_bytes=b) as bar:`` then hand
    ``bar.report`` to the SDK and call ``bar.file_done(path, size)`` as files finish."""

    def __init__(self, verb: str, *, files: int, total_bytes: int, quiet: bool = False) -> None:
        self._lock = threading.Lock()
        self._positions: dict[Path, int] = {}
        self._finished: set[Path] = set()
        self._files = files
        self._running = False
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=stderr_console(),
            disable=quiet,
            transient=False,
        )
        self._task: TaskID = self._progress.add_task(
            verb, total=max(total_bytes, 1), files=self._files_text(0)
        )

    def _files_text(self, done: int) -> str:
        return f"{done}/{self._files} files"

    def __enter__(self) -> TransferProgress:
        self._progress.start()
        self._running = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """End the display (it stays on screen); further reports are ignored."""
        if self._running:
            self._progress.stop()
            self._running = False

    def report(self, path: Path, position: int) -> None:
        """The SDK's progress hook: ``position`` bytes of ``path`` are through."""
        with self._lock:
            self._positions[Path(path)] = position
            completed = sum(self._positions.values())
        self._progress.update(self._task, completed=completed)

    def file_done(self, path: Path, size: int) -> None:
        """``path`` is finished (transferred, skipped or failed): count all of its bytes."""
        with self._lock:
            self._positions[Path(path)] = size
            self._finished.add(Path(path))
            completed = sum(self._positions.values())
            done = len(self._finished)
        self._progress.update(self._task, completed=completed, files=self._files_text(done))


class CountProgress:
    """A plain ``n/total`` display, e.g. while the server processes the uploads."""

    def __init__(self, verb: str, *, total: int, quiet: bool = False) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr_console(),
            disable=quiet,
        )
        self._task = self._progress.add_task(verb, total=max(total, 1))

    def __enter__(self) -> CountProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, done: int) -> None:
        self._progress.update(self._task, completed=done)


# The stages of an import, as ImportEvent names them.
STAGES = {
    "upload": "Uploading",
    "process": "Processing",
    "metadata": "Metadata",
    "segments": "Segments",
}


class StageProgress:
    """One ``n/total`` bar per stage of an import (processing, metadata, segments), each
    added when its first event arrives."""

    def __init__(self, *, quiet: bool = False) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr_console(),
            disable=quiet,
        )
        self._tasks: dict[str, TaskID] = {}
        self._started = False

    def update(self, stage: str, done: int, total: int) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        task = self._tasks.get(stage)
        if task is None:
            task = self._progress.add_task(STAGES.get(stage, stage), total=max(total, 1))
            self._tasks[stage] = task
        self._progress.update(task, completed=done, total=max(total, 1))

    def stop(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False
