"""Uploading many files into a project: resumable, parallel, with one progress display.

The rules ``capturehub upload`` (and ``capturehub demo``) follow:

- A capture is named after its file (``S01_0_ABD_007.csv``), wherever it is below the folder
  given, as the SDK's ``upload_many`` and ``import_dataset`` name them, and as ``download``
  and ``export_manifest`` write them back: uploading a folder with or without its manifest,
  or a downloaded copy of it, gives the same names. Two files of one name are refused before
  anything is sent. A folder's ``.csv`` and ``.wav`` files are found recursively (any case);
  hidden files and folders are skipped.
- A name already in the project with the same content (same size and sha256) is skipped, so an
  interrupted upload is resumed by running the command again; a name whose content differs is
  a conflict and is left alone (never overwritten). This is the SDK's resume rule
  (``capturehub.datamanager.resume``), the one ``Captures.import_dataset`` follows.
- Files are streamed from disk in parallel; every file is tried, and failures are collected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from capturehub.cli.errors import CliError
from capturehub.datamanager.capture import Capture
from capturehub.datamanager.captures import Captures
from capturehub.datamanager.resume import upload_unless_there
from capturehub.exceptions import CapturehubError
from capturehub.ingest import formats as file_formats

Status = Literal["uploaded", "skipped", "conflict", "failed"]


@dataclass(frozen=True)
class LocalFile:
    path: Path
    name: str
    size: int


@dataclass
class Outcome:
    """What happened to one file."""

    file: LocalFile
    status: Status
    capture: Capture | None = None
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("conflict", "failed")


@dataclass
class UploadReport:
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: bool = False

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.failed]


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def collect_files(paths: Iterable[Path]) -> list[LocalFile]:
    """The files to upload and their capture names; a CliError for a missing path, a folder
    without recordings, or two files that would get the same name."""
    found: dict[str, LocalFile] = {}
    for given in paths:
        if given.is_file():
            candidates = [given]
        elif given.is_dir():
            candidates = [
                path
                for path in sorted(given.rglob("*"))
                if path.is_file()
                and file_formats.is_recording(path)
                and not _is_hidden(path.relative_to(given))
            ]
            if not candidates:
                raise CliError(f"no {file_formats.suffixes_text()} files in {given}")
        else:
            raise CliError(f"no such file or folder: {given}")
        for path in candidates:
            other = found.get(path.name)
            if other is not None and other.path.resolve() != path.resolve():
                raise CliError(
                    f"two files would both be named {path.name!r}: {other.path} and {path}",
                    "capture names are unique in a project; rename one, or upload them into "
                    "separate projects",
                )
            found[path.name] = LocalFile(path=path, name=path.name, size=path.stat().st_size)
    return list(found.values())


def _conflict(local: LocalFile, capture: Capture) -> Outcome:
    return Outcome(
        local,
        "conflict",
        capture,
        "a different file has this name in the project already; rename the file or delete "
        "the capture",
    )


class Uploader:
    """Uploads files into one project; see the module docstring for the rules."""

    def __init__(
        self,
        captures: Captures,
        *,
        workers: int = 4,
        capture_info: dict[str, Any] | None = None,
        on_file_done: Callable[[LocalFile], None] | None = None,
    ) -> None:
        self._captures = captures
        self._workers = max(1, workers)
        self._capture_info = capture_info
        self._on_file_done = on_file_done

    def _one(self, local: LocalFile, existing: Capture | None) -> Outcome:
        try:
            resumed = upload_unless_there(
                self._captures,
                local.name,
                local.path,
                existing=existing,
                asynchronous=True,
                capture_info=self._capture_info,
            )
        except CapturehubError as exc:
            return Outcome(local, "failed", None, exc.detail)
        except OSError as exc:
            return Outcome(local, "failed", None, f"cannot read the file: {exc.strerror or exc}")
        finally:
            if self._on_file_done is not None:
                self._on_file_done(local)
        if resumed.status == "conflict":
            return _conflict(local, resumed.capture)
        if resumed.status == "skipped":
            return Outcome(local, "skipped", resumed.capture, "already uploaded")
        return Outcome(local, "uploaded", resumed.capture)

    def upload(self, files: Sequence[LocalFile]) -> UploadReport:
        """Upload ``files`` (skipping those already there); Ctrl-C stops starting new ones,
        lets those in flight finish, and answers a report with ``interrupted`` set."""
        existing = {capture.name: capture for capture in self._captures.get_captures()}
        report = UploadReport()
        pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="upload")
        futures: set[Future[Outcome]] = {
            pool.submit(self._one, local, existing.get(local.name)) for local in files
        }
        try:
            while futures:
                done, futures = wait(futures, return_when=FIRST_COMPLETED)
                report.outcomes.extend(future.result() for future in done)
        except KeyboardInterrupt:
            report.interrupted = True
            pool.shutdown(wait=True, cancel_futures=True)
            report.outcomes.extend(
                future.result() for future in futures if future.done() and not future.cancelled()
            )
        finally:
            pool.shutdown(wait=True)
        order = {local.name: index for index, local in enumerate(files)}
        report.outcomes.sort(key=lambda outcome: order[outcome.file.name])
        return report


def await_processing(
    captures: Captures,
    report: UploadReport,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    poll_seconds: float = 1.0,
) -> None:
    """Wait until the server processed every uploaded (or skipped) capture of ``report``;
    those whose processing failed become failures carrying the server's message."""
    pending = {
        outcome.capture.uuid: outcome
        for outcome in report.outcomes
        if outcome.capture is not None and not outcome.failed
    }
    total = len(pending)
    delay = min(0.25, poll_seconds)
    while True:
        states = {capture.uuid: capture for capture in captures.get_captures()}
        for uuid, outcome in list(pending.items()):
            capture = states.get(uuid)
            if capture is None:
                outcome.status, outcome.message = "failed", "the capture was deleted meanwhile"
                del pending[uuid]
            elif capture.task_state == "FAILURE":
                outcome.status = "failed"
                outcome.message = capture.task_result or "processing failed"
                outcome.capture = capture
                del pending[uuid]
            elif capture.task_state not in ("SENT", "STARTED"):
                outcome.capture = capture
                del pending[uuid]
        if on_progress is not None:
            on_progress(total - len(pending), total)
        if not pending:
            return
        time.sleep(delay)
        delay = min(delay * 2, poll_seconds)
