"""The move, step by step: check both sides, copy the rows, check their counts, copy the
files, check the old lab did not change meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from capturehub.server.models import Capture
from capturehub.server.moving import source as old
from capturehub.server.moving import target as new
from capturehub.server.moving.errors import MoveError, shown
from capturehub.server.moving.files import Expected, FilesResult, copy_files
from capturehub.server.moving.tables import compare_counts, copy_rows, lab_tables
from capturehub.server.runtime import build_blob_store
from capturehub.server.settings import Settings
from capturehub.storage import BlobStore, LocalBlobStore


@dataclass
class MoveReport:
    resumed: bool
    # Rows of each table in the old and the new database after the move.
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    rows_copied: int = 0  # in this run
    row_seconds: float = 0.0
    files: FilesResult = field(default_factory=FilesResult)
    file_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(new_count for _old, new_count in self.counts.values())

    @property
    def complete(self) -> bool:
        return not self.files.failed


def store_at(url: str, settings: Settings, s3_endpoint_url: str | None = None) -> BlobStore:
    """The blob store a server builds from CAPTUREHUB_STORAGE_URL=``url`` (and
    CAPTUREHUB_S3_ENDPOINT_URL=``s3_endpoint_url``, by default the old lab's setting)."""
    if not url.startswith(("file:///", "s3://")):
        raise MoveError(
            f"--to-storage {url!r} is not a storage URL: give file:///absolute/folder or "
            "s3://bucket/prefix."
        )
    endpoint = s3_endpoint_url or settings.s3_endpoint_url
    return build_blob_store(
        settings.model_copy(update={"storage_url": url, "s3_endpoint_url": endpoint})
    )


def _check_stores(source: BlobStore, target: BlobStore, url: str) -> None:
    if (
        isinstance(source, LocalBlobStore)
        and isinstance(target, LocalBlobStore)
        and source.root == target.root
    ):
        raise MoveError("--to-storage is the old lab's own blob folder: give another one.")
    try:
        next(iter(target.list("")), None)
    except Exception as exc:
        raise MoveError(f"Cannot reach the new storage {url}: {exc}") from exc


def _target_store_foreign(source: BlobStore, target: BlobStore, url: str) -> None:
    """A new move writes only into storage that holds no file of anything else: files of this
    lab (the same keys, from a move started over) are copied again and checked."""
    ours = set(source.list(""))
    foreign = next((key for key in target.list("") if key not in ours), None)
    if foreign is not None:
        raise MoveError(
            f"The new storage {url} already holds files that are not this lab's ({foreign}, "
            "...): give an empty folder or bucket prefix."
        )


def _capture_files(connection: Connection) -> tuple[dict[str, Expected], set[str]]:
    """What the capture rows recorded of their originals, and every file they name."""
    expected: dict[str, Expected] = {}
    referenced: set[str] = set()
    rows = connection.execute(
        select(
            Capture.uuid,
            Capture.blob_key,
            Capture.file_size,
            Capture.sha256,
            Capture.columnar_key,
            Capture.task_state,
        )
    )
    for uuid, blob_key, size, sha256, columnar_key, state in rows:
        expected[blob_key] = Expected(int(size), sha256, uuid)
        referenced.add(blob_key)
        # A columnar copy is only promised once processing succeeded (as fsck sees it).
        if columnar_key and state == "SUCCESS":
            referenced.add(columnar_key)
    return expected, referenced


def move_lab(
    settings: Settings,
    to_database: str,
    to_storage: str,
    *,
    batch_size: int = 2000,
    jobs: int = 4,
    s3_endpoint_url: str | None = None,
    say: Callable[[str], None] = print,
) -> MoveReport:
    """Copy the lab of ``settings`` (its database and blob store) to ``to_database`` and
    ``to_storage``; continue a move that was interrupted. Raises MoveError when it cannot."""
    started = time.perf_counter()
    source_url = settings.effective_database_url
    source_engine = old.open_source(source_url)
    old.check_schema(source_engine, source_url)
    source_store = build_blob_store(settings)
    target_store = store_at(to_storage, settings, s3_endpoint_url)
    _check_stores(source_store, target_store, to_storage)
    # One connection per file copied at once (each notes its file), one for the rows.
    engine = new.open_target(to_database, source_url, connections=max(1, jobs) + 2)
    try:
        record = new.prepare(engine, to_database, shown(source_url))
        report = MoveReport(resumed=record.fingerprint is not None)
        if not report.resumed:
            _target_store_foreign(source_store, target_store, to_storage)
        say(f"{'continuing the move' if report.resumed else 'moving'} {shown(source_url)}")
        rows_started = time.perf_counter()
        with old.snapshot(source_engine) as connection:
            pairs = lab_tables(connection, engine)
            state = old.fingerprint(connection, [pair.read for pair in pairs])
            if record.fingerprint is None:
                new.record_fingerprint(engine, state)
            elif record.fingerprint != state:
                raise MoveError(
                    "The old lab changed since this move began: "
                    f"{'; '.join(old.changes(record.fingerprint, state))}. Stop the old lab "
                    "(nothing may write to it during the move), then start again with a new, "
                    "empty database (the files already copied may stay)."
                )
            if not record.rows_done:
                for pair in pairs:
                    before = time.perf_counter()
                    copied = copy_rows(
                        connection,
                        engine,
                        pair,
                        batch_size,
                        lambda name, count: say(f"  {name}: {count} rows"),
                    )
                    report.rows_copied += copied
                    seconds = time.perf_counter() - before
                    say(f"  {pair.name}: done, {copied} rows copied now ({seconds:.1f} s)")
            new.advance_sequences(engine, [pair.write for pair in pairs])
            report.counts = compare_counts(connection, engine, pairs)
            wrong = {name: pair for name, pair in report.counts.items() if pair[0] != pair[1]}
            if wrong and record.finished:
                raise MoveError(
                    "This move finished earlier, and the new database has changed since (a "
                    f"server ran on it: {', '.join(sorted(wrong))}): there is nothing more to "
                    "move."
                )
            if wrong:
                listed = ", ".join(f"{name}: {a} old, {b} new" for name, (a, b) in wrong.items())
                raise MoveError(f"Row counts differ after the copy: {listed}.")
            new.mark_rows_done(engine)
            expected, referenced = _capture_files(connection)
        report.row_seconds = time.perf_counter() - rows_started
        say(f"rows: {report.rows} in {len(pairs)} tables, counts equal")
        files_started = time.perf_counter()
        last_said = [0.0]

        def progress(result: FilesResult, total: int) -> None:
            now = time.perf_counter()
            if now - last_said[0] >= 2 or result.copied == 1:
                last_said[0] = now
                say(f"  files: {result.already + result.copied} of {total}")

        report.files = copy_files(
            source_store,
            target_store,
            engine,
            expected,
            referenced,
            jobs=jobs,
            on_progress=progress,
        )
        report.file_seconds = time.perf_counter() - files_started
        with old.snapshot(source_engine) as connection:
            if old.fingerprint(connection, [pair.read for pair in pairs]) != state:
                raise MoveError(
                    "The old lab was written to during the move: stop it (nothing may write "
                    "to it during the move), then start again with a new, empty database."
                )
        if report.complete:
            new.mark_finished(engine)
        report.total_seconds = time.perf_counter() - started
        return report
    finally:
        engine.dispose()
        source_engine.dispose()
