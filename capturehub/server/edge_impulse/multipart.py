"""Stream an ingestion request's ``data`` parts into the blob store, one capture per part.

Each file part goes from the socket into its own blob writer as it arrives (hashed and
counted on the way) and is handed to :class:`SampleIntake` when it ends, so a request of a
thousand files holds one file's writer at a time. Parts named ``*.labels`` are sidecars (the
structured labels of other parts, by file name): ranges that arrive before their file go in
with it; ranges that arrive after it are applied once the body is read.

Per-file problems (too large, past the 1,000th file, unreadable) are per-file errors; the
other files of the request are kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool
from python_multipart.exceptions import MultipartParseError
from starlette.requests import Request

from capturehub.server.captures.intake import IncomingFile
from capturehub.server.edge_impulse.samples import (
    LABELS_SUFFIX,
    MAX_FILES,
    FileResult,
    Range,
    ReceivedFile,
    SampleIntake,
    parse_structured_labels,
)
from capturehub.server.errors import BadRequest
from capturehub.server.multipart_parts import PartCollector, multipart_parser
from capturehub.storage import BlobWriter

# An acquisition document is parsed whole (its signature is checked on its exact bytes), so
# parts are kept in memory up to this size as well as streamed to the store.
DOCUMENT_BYTES = 32 * 1024 * 1024
MAX_SIDECAR_BYTES = 16 * 1024 * 1024


@dataclass
class _Part:
    filename: str
    incoming: IncomingFile | None = None
    writer: BlobWriter | None = None
    size: int = 0
    hash: hashlib._Hash = field(default_factory=hashlib.sha256)
    kept: bytearray = field(default_factory=bytearray)
    error: str | None = None
    sidecar: bool = False


class _Collector(PartCollector):
    def __init__(self, intake: SampleIntake, max_file_bytes: int) -> None:
        super().__init__()
        self.intake = intake
        self.max_file_bytes = max_file_bytes
        self.files = 0
        self.part: _Part | None = None
        self.finished: list[_Part] = []

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self.part = None

    def on_headers_finished(self) -> None:
        _name, filename = self.disposition()
        if filename is None:
            return  # a plain form field: Edge Impulse's clients send none; ignored
        name = filename.decode("utf-8", "replace")
        part = _Part(filename=name)
        self.part = part
        if name.lower().endswith(LABELS_SUFFIX):
            part.sidecar = True
            return
        self.files += 1
        if self.files > MAX_FILES:
            part.error = (
                f"Too many files in one request: at most {MAX_FILES} are taken, this was file "
                f"number {self.files}; send the rest in another request."
            )
            return
        part.incoming = self.intake.incoming()
        part.writer = part.incoming.open_writer()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.part
        if part is None or part.error is not None:
            return
        chunk = data[start:end]
        part.size += len(chunk)
        if part.sidecar:
            if part.size > MAX_SIDECAR_BYTES:
                part.error = "The labels file is too large."
            else:
                part.kept += chunk
            return
        if part.size > self.max_file_bytes:
            part.error = (
                f"The file is larger than this server's limit of {self.max_file_bytes} bytes "
                "per file (setting CAPTUREHUB_EDGE_IMPULSE_MAX_FILE_BYTES); nothing of it was "
                "stored."
            )
            self._drop(part)
            part.kept = bytearray()
            return
        part.hash.update(chunk)
        assert part.writer is not None
        part.writer.write(chunk)
        if len(part.kept) < DOCUMENT_BYTES:
            part.kept += chunk[: DOCUMENT_BYTES - len(part.kept)]

    def on_part_end(self) -> None:
        if self.part is not None:
            self.finished.append(self.part)
        self.part = None

    def _drop(self, part: _Part) -> None:
        if part.incoming is not None:
            part.incoming.discard()
        part.incoming = None
        part.writer = None

    def abort(self) -> None:
        for part in [*self.finished, *([self.part] if self.part else [])]:
            self._drop(part)


async def receive_files(
    request: Request, intake: SampleIntake, max_file_bytes: int
) -> list[FileResult]:
    """Store every ``data`` part of a multipart body; one result per file part."""
    collector = _Collector(intake, max_file_bytes)
    parser = multipart_parser(
        request, collector, "Send the files as multipart/form-data, each part named `data`."
    )
    results: list[FileResult] = []
    ranges: dict[str, list[Range]] = {}
    stored: dict[str, FileResult] = {}
    late: list[dict[str, list[Range]]] = []
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            await _handle(collector, intake, results, ranges, stored, late)
        parser.finalize()
        await _handle(collector, intake, results, ranges, stored, late)
    except MultipartParseError as exc:
        collector.abort()
        raise BadRequest(f"The multipart body is malformed: {exc}") from exc
    except BaseException:  # incl. client disconnects and cancellation
        collector.abort()
        raise
    if collector.part is not None:
        collector.abort()
        raise BadRequest("The request ended before its last file was complete.")
    for sidecar in late:
        for filename, file_ranges in sidecar.items():
            result = stored.get(filename)
            if result is not None and result.error is None:
                await run_in_threadpool(intake.relabel, result, file_ranges)
    if not results:
        raise BadRequest("The request has no files: send each file as a multipart part `data`.")
    return results


async def _handle(
    collector: _Collector,
    intake: SampleIntake,
    results: list[FileResult],
    ranges: dict[str, list[Range]],
    stored: dict[str, FileResult],
    late: list[dict[str, list[Range]]],
) -> None:
    finished, collector.finished = collector.finished, []
    for part in finished:
        if part.sidecar:
            if part.error is not None:
                raise BadRequest(part.error)
            labels = parse_structured_labels(bytes(part.kept))
            ranges.update(labels)
            late.append({name: items for name, items in labels.items() if name in stored})
            continue
        if part.error is not None or part.incoming is None:
            results.append(FileResult(file_name=part.filename, error=part.error))
            continue
        received = ReceivedFile(
            filename=part.filename,
            incoming=part.incoming,
            size=part.size,
            sha256=part.hash.hexdigest(),
            head=bytes(part.kept),
        )
        result = await run_in_threadpool(intake.store, received, ranges.get(part.filename))
        results.append(result)
        stored[part.filename] = result
