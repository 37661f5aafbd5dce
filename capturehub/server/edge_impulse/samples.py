"""An Edge Impulse sample becomes a capture: the rules of the mapping (docs/edge-impulse.md).

- the capture's name is the file name without its last extension (``idle.01.json`` is
  ``idle.01``); when the project has one of that name, the first 8 hex digits of the file's
  SHA-256 are added (``idle.01.3fa2b1c9``), as Edge Impulse keeps a hash beside the name;
- the category (training, testing, anomaly; ``split`` picks training or testing 80/20 by the
  content's hash, so the same file always lands in the same set) is the metadata ``category``;
- the label (``x-label``, else the file name up to its first dot, unless ``x-no-label``) is a
  segment over the whole capture under the segment label ``Label`` (setting
  ``edge_impulse_label_name``); structured labels become one segment per range; a sample of
  one value (a table row) keeps its label as the metadata ``label``, as a segment needs two;
- ``x-metadata`` becomes metadata, as do the device's type and name and the signature state;
- an acquisition document's ``interval_ms`` sets the sample rate, its sensors name the
  channels (units kept in the schema).

Everything above is written in the transaction that inserts the capture (the lifecycle's
:class:`~capturehub.server.captures.service.UploadHooks`), so a sample is stored whole or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from capturehub.ingest import IngestError, formats
from capturehub.ingest import acquisition as documents
from capturehub.server.captures.intake import CaptureLifecycle, IncomingFile, UploadDetails
from capturehub.server.captures.service import NewCapture, UploadHooks
from capturehub.server.context import AppContext
from capturehub.server.edge_impulse.keys import ProjectCaller, hmac_key
from capturehub.server.errors import APIError, BadRequest, Conflict
from capturehub.server.labels.service import ensure_label
from capturehub.server.metadata.service import set_metadata
from capturehub.server.models import Capture, Label, Project, Segment, new_uuid
from capturehub.server.names import validate_name
from capturehub.server.relationships.resolve import CaptureRow
from capturehub.server.segments.service import END, START, create_segments
from capturehub.server.storage_keys import CaptureFiles

CATEGORIES = ("training", "testing", "anomaly", "split")
CATEGORY_KEY = "category"
SIGNATURE_KEY = "signature"
DEVICE_TYPE_KEY = "device_type"
DEVICE_NAME_KEY = "device_name"
# A one-value sample (a table row) cannot hold a segment (those span two values or more): its
# label is kept as this metadata key instead.
LABEL_KEY = "label"
DUPLICATE = "An item with this hash already exists"
MAX_FILES = 1000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
LABELS_SUFFIX = ".labels"


@dataclass
class Range:
    start: int
    end: int
    label: str


@dataclass
class RequestOptions:
    """What the request's headers say about every file in it."""

    category: str
    label: str | None = None
    no_label: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    disallow_duplicates: bool = False
    add_date_id: bool = False

    @classmethod
    def from_headers(cls, category: str, headers: Any) -> RequestOptions:
        if category not in CATEGORIES:
            raise BadRequest(
                f"Unknown category {category!r}; use training, testing, anomaly or split."
            )
        raw_label = headers.get("x-label")
        # The Node clients percent-encode the label, Python sends it raw: decoding a raw
        # label changes it only if it holds a "%xx" sequence, which labels do not.
        label = unquote(raw_label) if raw_label else None
        return cls(
            category=category,
            label=label or None,
            no_label=headers.get("x-no-label", "") in ("1", "true", "yes"),
            metadata=_metadata_header(headers.get("x-metadata")),
            disallow_duplicates="x-disallow-duplicates" in headers,
            add_date_id=headers.get("x-add-date-id", "") in ("1", "true", "yes"),
        )


def _metadata_header(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise BadRequest('x-metadata must be a JSON object, e.g. {"subject": "S01"}.')
    return {str(key): _text(item) for key, item in value.items()}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def parse_structured_labels(raw: bytes) -> dict[str, list[Range]]:
    """A ``structured_labels.labels`` part: ranges per file name (a 400 if unreadable)."""
    try:
        document = json.loads(raw)
        entries = document["structuredLabels"]
        ranges = {
            str(name): [
                Range(int(item["startIndex"]), int(item["endIndex"]), str(item["label"]))
                for item in items
            ]
            for name, items in entries.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadRequest(
            'The structured labels part is not {"structuredLabels": {file name: '
            f"[{{startIndex, endIndex, label}}]}}: {exc}"
        ) from exc
    return ranges


@dataclass
class ReceivedFile:
    """One file part, streamed into the blob store (not yet committed)."""

    filename: str
    incoming: IncomingFile
    size: int
    sha256: str
    head: bytes


@dataclass
class FileResult:
    file_name: str
    sample_id: int | None = None
    error: str | None = None
    capture_uuid: str | None = None
    name: str | None = None

    def to_json(self, project_id: int) -> dict[str, Any]:
        if self.error is not None:
            return {"success": False, "fileName": self.file_name, "error": self.error}
        return {
            "success": True,
            "sampleId": self.sample_id,
            "projectId": project_id,
            "fileName": self.file_name,
        }


def format_for(filename: str, head: bytes) -> str:
    """The capture format of a file (by its suffix, else its first bytes), or a 400 in
    words for what capturehub does not store."""
    lowered = filename.lower()
    if lowered.endswith(IMAGE_SUFFIXES):
        raise BadRequest(
            "Images are not stored by capturehub: it keeps time series (acquisition JSON or "
            "CBOR, CSV, WAV)."
        )
    if lowered.endswith(VIDEO_SUFFIXES):
        raise BadRequest(
            "Videos are not stored by capturehub: it keeps time series (acquisition JSON or "
            "CBOR, CSV, WAV)."
        )
    known = formats.by_filename(filename) or formats.sniff(head)
    if known is None:
        raise BadRequest(
            f"Cannot tell what {filename!r} is: send an acquisition document (.json or .cbor), "
            "a CSV or a WAV file."
        )
    if known is formats.ACQUISITION:
        return ".cbor" if documents.is_cbor(head) else ".json"
    return known.suffix


def sample_name(filename: str, *, add_date_id: bool) -> str:
    base = filename.rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    if add_date_id:
        stem = f"{stem}.{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"
    return validate_name(stem or base, what="sample")


def numeric_timestamps(head: bytes) -> bool:
    """Whether a CSV's first column is ``timestamp`` with a number in its first row."""
    lines = head.decode("utf-8", "replace").splitlines()
    if len(lines) < 2:
        return False
    header = [cell.strip().strip('"').lower() for cell in lines[0].split(",")]
    if "timestamp" not in header:
        return False
    cells = lines[1].split(",")
    index = header.index("timestamp")
    try:
        float(cells[index])
    except (ValueError, IndexError):
        return False
    return True


def inferred_label(filename: str) -> str | None:
    base = filename.rsplit("/", 1)[-1]
    return base.split(".", 1)[0] or None


def split_category(sha256: str) -> str:
    """``split``: 80 % training, 20 % testing, by a stable hash of the content."""
    return "training" if int(sha256[:8], 16) % 100 < 80 else "testing"


class SampleHooks(UploadHooks):
    """The mapping's work inside the capture's insert transaction."""

    chooses_name = True

    def __init__(
        self,
        *,
        sha256: str,
        options: RequestOptions,
        label: str | None,
        ranges: list[Range] | None,
        metadata: dict[str, str],
        label_name: str,
        signature_of: Any = None,
        milliseconds: bool = False,
    ) -> None:
        self.sha256 = sha256
        self.options = options
        self.label = label
        self.ranges = ranges
        self.metadata = metadata
        self.label_name = label_name
        # A function of the session giving the signature state (it needs the HMAC key).
        self.signature_of = signature_of
        # A CSV in Edge Impulse's layout: its timestamps are milliseconds, where capturehub's
        # CSV reader takes numbers as seconds.
        self.milliseconds = milliseconds

    def before_insert(self, session: Session, project: Project, upload: NewCapture) -> None:
        # One upload at a time per project from here to the commit (PostgreSQL; SQLite writes
        # are serial anyway), so that "is this name free / is this content here" holds.
        session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
        if self.options.disallow_duplicates:
            existing = session.scalar(
                select(Capture.name)
                .where(Capture.project_id == project.id, Capture.sha256 == self.sha256)
                .limit(1)
            )
            if existing is not None:
                raise Conflict(f"{DUPLICATE} (sample {existing!r}).")
        upload.name = _free_name(session, project, upload.name, self.sha256)

    def after_insert(self, session: Session, project: Project, capture: Capture) -> None:
        if self.milliseconds and capture.calculated_sample_rate:
            capture.calculated_sample_rate *= 1000.0
        if self.signature_of is not None:
            self.metadata[SIGNATURE_KEY] = self.signature_of(session, project)
        if self.label is not None and not self.ranges and (capture.max_sequence or 0) < 1:
            self.metadata[LABEL_KEY] = self.label
        row = CaptureRow(
            id=capture.id,
            uuid=capture.uuid,
            name=capture.name,
            task_state=capture.task_state,
            task_result=capture.task_result,
            max_sequence=capture.max_sequence,
            created_at=capture.created_at,
        )
        if self.metadata:
            for key in self.metadata:
                ensure_label(session, project, key, is_metadata=True)
            set_metadata(
                session,
                project,
                [{"label": key, "label_value": value} for key, value in self.metadata.items()],
                single=False,
                capture=row,
            )
        segments = self._segments(capture)
        if segments:
            ensure_label(session, project, self.label_name, is_metadata=False)
            create_segments(session, project, segments, single=False, capture=row)

    def _segments(self, capture: Capture) -> list[dict[str, Any]]:
        last = capture.max_sequence or 0
        if self.ranges:
            items = []
            for item in self.ranges:
                if item.start < 0 or item.end > last or item.start >= item.end:
                    raise BadRequest(
                        f"The label range {item.start}-{item.end} ({item.label!r}) does not fit "
                        f"the sample's {last + 1} values: capturehub keeps ranges of at least "
                        "two values within the sample."
                    )
                items.append(self._segment(item.label, item.start, item.end))
            return items
        if self.label is None or last < 1:
            return []
        return [self._segment(self.label, 0, last)]

    def _segment(self, value: str, start: int, end: int) -> dict[str, Any]:
        return {"label": self.label_name, "label_value": value, START: start, END: end}


def _free_name(session: Session, project: Project, name: str, sha256: str) -> str:
    def taken(candidate: str) -> bool:
        return (
            session.scalar(
                select(Capture.id).where(
                    Capture.project_id == project.id, Capture.name == candidate
                )
            )
            is not None
        )

    if not taken(name):
        return name
    candidate = f"{name}.{sha256[:8]}"
    number = 2
    while taken(candidate):
        candidate = f"{name}.{sha256[:8]}.{number}"
        number += 1
    return candidate


class SampleIntake:
    """Receive the files of one ingestion request through the capture lifecycle."""

    def __init__(self, context: AppContext, who: ProjectCaller, options: RequestOptions) -> None:
        self.context = context
        self.who = who
        self.options = options
        self.lifecycle = CaptureLifecycle(context)

    def incoming(self) -> IncomingFile:
        """Fresh keys for one file of the request. Called from the body parser, on the event
        loop, so without a database query: the project was checked with the key."""
        return IncomingFile(self.context, CaptureFiles.new(self.who.project_uuid, new_uuid()))

    def relabel(self, result: FileResult, ranges: list[Range]) -> None:
        """Structured labels that arrived after their file: they replace the file's label
        segments. If they do not fit, the sample is deleted (kept whole or not at all)."""
        assert result.capture_uuid is not None
        label_name = self.context.settings.edge_impulse_label_name
        try:
            with self.context.db.session() as session:
                project = session.get(Project, self.who.project_id)
                capture = session.scalar(
                    select(Capture).where(
                        Capture.uuid == result.capture_uuid,
                        Capture.project_id == self.who.project_id,
                    )
                )
                if project is None or capture is None:
                    return  # deleted meanwhile
                label_id = session.scalar(
                    select(Label.id).where(Label.project_id == project.id, Label.name == label_name)
                )
                if label_id is not None:
                    session.execute(
                        delete(Segment).where(
                            Segment.capture_id == capture.id, Segment.label_id == label_id
                        )
                    )
                hooks = SampleHooks(
                    sha256=capture.sha256,
                    options=self.options,
                    label=None,
                    ranges=ranges,
                    metadata={},
                    label_name=label_name,
                )
                hooks.after_insert(session, project, capture)
        except APIError as exc:
            self.lifecycle.delete(self.who.caller, self.who.project_uuid, result.capture_uuid)
            result.error = exc.message
            result.sample_id = None

    def store(self, received: ReceivedFile, ranges: list[Range] | None = None) -> FileResult:
        """Keep one file as a capture, or say in words why not (nothing of it is kept)."""
        result = FileResult(file_name=received.filename)
        try:
            with received.incoming:
                capture = self._store(received, ranges)
        except IngestError as exc:
            result.error = str(exc)
            return result
        except APIError as exc:
            result.error = exc.message
            return result
        result.sample_id = capture.id
        result.capture_uuid = capture.uuid
        result.name = capture.name
        return result

    def _store(self, received: ReceivedFile, ranges: list[Range] | None) -> Capture:
        if received.size == 0:
            raise BadRequest("The file is empty.")
        file_format = format_for(received.filename, received.head)
        name = sample_name(received.filename, add_date_id=self.options.add_date_id)
        category = self.options.category
        if category == "split":
            category = split_category(received.sha256)
        label = self.options.label
        if label is None and not self.options.no_label:
            label = inferred_label(received.filename)
        metadata = dict(self.options.metadata)
        metadata[CATEGORY_KEY] = category
        signature_of = None
        if file_format in (".json", ".cbor"):
            signature_of = self._document_facts(received, metadata)
        hooks = SampleHooks(
            sha256=received.sha256,
            options=self.options,
            label=label,
            ranges=ranges,
            metadata=metadata,
            label_name=self.context.settings.edge_impulse_label_name,
            signature_of=signature_of,
            milliseconds=file_format == ".csv" and numeric_timestamps(received.head),
        )
        details = UploadDetails(
            name=name,
            format=file_format,
            set_sample_rate=None,
            calculated_sample_rate=None,
            configuration_uuid=None,
            # Measured before the row is inserted: the label's segment needs the sample count,
            # and a file that cannot be read is refused with the reader's words.
            asynchronous=False,
            hooks=hooks,
        )
        capture, _ = self.lifecycle.receive(
            self.who.caller,
            self.who.project_uuid,
            received.incoming,
            details=details,
            file_size=received.size,
            sha256=received.sha256,
        )
        return capture

    def _document_facts(self, received: ReceivedFile, metadata: dict[str, str]) -> Any:
        """Read the document's device and signature (the reader checks the rest)."""
        raw = self._read_back(received)
        document = documents.parse(raw)
        metadata[DEVICE_TYPE_KEY] = document.device_type
        if document.device_name:
            metadata[DEVICE_NAME_KEY] = document.device_name

        def signature_of(session: Session, project: Project) -> str:
            key = hmac_key(session, project.id) if document.alg == "HS256" else None
            return documents.signature_state(raw, document, key)

        return signature_of

    def _read_back(self, received: ReceivedFile) -> bytes:
        # The whole document is in memory once anyway, when it is measured; a part over the
        # request's size limit never gets here.
        if len(received.head) == received.size:
            return received.head
        raise BadRequest(
            f"The acquisition document is larger than {len(received.head)} bytes; send it as "
            "CSV, or raise edge_impulse_max_document_bytes."
        )
