"""Import a labelled dataset in one call, and export a project back to the same manifest.

Two manifest formats are read (which one is told from the first entry):

- **capturehub's**, as in the shared watch dataset: a JSON list of ``{"file",
  "sample_rate_hz"?, "metadata"?: {key: value}, "segments"?: [{"label", "value", "start",
  "end"}]}``;
- **SensiML's DCLI JSON**: a list of ``{"file_name", "metadata"?: [{"name", "value"}],
  "sessions"?: [{"session_name", "segments": [{"name", "value", "start", "end"}]}]}``.

Files are found relative to ``data_dir`` when given, else to the manifest's folder; each
becomes a capture named after the file (its last path component). ``start`` and ``end`` are
sample indices, **both included** (the server's convention).

The import is a plan, then a few bulk requests:

1. metadata keys and labels the manifest uses are created (keys: non-dropdown, labels:
   dropdown; the type follows the JSON values) or given the values they lack;
2. files whose name is not on the server are uploaded in parallel; a name already there with
   the same content (sha256) is skipped, with other content it is a conflict, never
   overwritten (the resume rule, ``datamanager/resume.py``);
3. the import waits until the server has processed every capture involved;
4. the metadata and segments the server lacks are sent in bulk (project-wide routes, a few
   thousand per request); what is already there is left alone.

So running an import twice changes nothing the second time: no upload, no write, no new
capture version. The import only adds: metadata or segments on the server that the manifest
does not mention stay.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capturehub._transport import json_body
from capturehub.datamanager._pool import transfer_pool
from capturehub.datamanager._wire import iter_capture_list, iter_list, segment
from capturehub.datamanager.capture import PENDING_STATES
from capturehub.datamanager.labels import (
    Kind,
    Label,
    Value,
    add_values,
    comparable,
    create_definition,
    infer_type,
    list_definitions,
    sort_values,
    typed_value,
)
from capturehub.datamanager.resume import upload_unless_there
from capturehub.datamanager.segments import END, START
from capturehub.exceptions import (
    APIError,
    CaptureExistsError,
    CapturehubError,
    ServerError,
    ValidationError,
)

if TYPE_CHECKING:
    from capturehub.datamanager.capture import Capture
    from capturehub.datamanager.captures import Captures

MANIFEST = "manifest"
DCLI = "dcli"
# Items per bulk request: well under the server's cost limits, few requests for big datasets.
BULK_SIZE = 5000
RELATIONSHIP_PAGE = 5000
_POLL_FIRST, _POLL_MAX = 0.25, 2.0


@dataclass(frozen=True)
class ImportEvent:
    """One step of an import, passed to the ``progress`` callback (in the calling thread).

    Attributes:
        stage: ``"upload"`` (one per capture: uploaded, skipped, conflict or failed),
            ``"process"`` (one per capture the server finished processing), ``"metadata"``
            and ``"segments"`` (one per bulk request), ``"done"`` (once, at the end).
        done, total: progress within the stage (``done`` of ``total``).
        name: the capture concerned, for per-capture stages.
        status: ``uploaded``, ``skipped``, ``conflict``, ``failed`` (upload); ``ready`` or
            ``failed`` (process); ``sent`` or ``failed`` (metadata, segments).
        message: why, when something failed.
    """

    stage: str
    done: int
    total: int
    name: str | None = None
    status: str = ""
    message: str = ""


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        manifest: the manifest read; format: ``"manifest"`` or ``"dcli"``.
        uploaded: names of the captures uploaded.
        skipped: names already on the server with the same content (not uploaded again).
        failed: capture name (or ``"entry N"``) → what went wrong, for every capture that
            could not be imported completely: unreadable entry, missing file, refused or
            unprocessable file, conflict, refused metadata or segments. A capture can be in
            ``uploaded`` or ``skipped`` and in ``failed`` (e.g. its segments were refused).
        conflicts: names on the server with different content (also in ``failed``).
        updated: existing captures whose sample rate was set to the manifest's.
        metadata_set: metadata values written (set or changed).
        segments_added: segments created.
        labels_created, metadata_keys_created: definitions the import created.
    """

    manifest: Path
    format: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    metadata_set: int = 0
    segments_added: int = 0
    labels_created: list[str] = field(default_factory=list)
    metadata_keys_created: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every entry was imported completely."""
        return not self.failed

    def summary(self) -> str:
        """One line: ``140 uploaded, 0 skipped, 0 failed, 280 metadata values, 140 segments``."""
        return (
            f"{len(self.uploaded)} uploaded, {len(self.skipped)} skipped, "
            f"{len(self.failed)} failed ({len(self.conflicts)} conflicts), "
            f"{self.metadata_set} metadata values, {self.segments_added} segments"
        )

    def __str__(self) -> str:
        return self.summary()


# -- reading manifests ----------------------------------------------------------------------


@dataclass(frozen=True)
class _SegmentSpec:
    label: str
    value: Value
    start: int
    end: int
    session: str | None = None


@dataclass
class _Entry:
    name: str
    path: Path
    sample_rate: float | None
    metadata: dict[str, Value]
    segments: list[_SegmentSpec]


class _EntryError(Exception):
    pass


def detect_format(raw: Any) -> str:
    """``"manifest"`` or ``"dcli"`` for a decoded manifest; ValueError for anything else."""
    if not isinstance(raw, list):
        raise ValueError(
            "a manifest is a JSON list of entries ({'file', ...} or SensiML DCLI "
            f"{{'file_name', ...}}), not a {type(raw).__name__}"
        )
    for item in raw:
        if isinstance(item, dict) and "file" in item:
            return MANIFEST
        if isinstance(item, dict) and "file_name" in item:
            return DCLI
    if not raw:
        return MANIFEST
    raise ValueError(
        "cannot tell the manifest's format: its entries have neither 'file' (capturehub "
        "manifest) nor 'file_name' (SensiML DCLI)"
    )


def read_manifest(
    manifest: Path, data_dir: Path | None
) -> tuple[str, list[_Entry], dict[str, str]]:
    """The format, the readable entries, and ``{name: problem}`` for the others."""
    try:
        raw = json.loads(manifest.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{manifest} is not valid JSON: {exc}") from None
    fmt = detect_format(raw)
    base = data_dir if data_dir is not None else manifest.parent
    entries: list[_Entry] = []
    failed: dict[str, str] = {}
    first_index: dict[str, int] = {}
    for index, item in enumerate(raw):
        key = f"entry {index}"
        try:
            if not isinstance(item, dict):
                raise _EntryError(f"an entry is a JSON object, not {item!r:.80}")
            file_field = "file" if fmt == MANIFEST else "file_name"
            file = item.get(file_field)
            if not isinstance(file, str) or not file.strip():
                raise _EntryError(f"{file_field!r} must be a file name")
            key = Path(file).name
            entry = _manifest_entry(item, base) if fmt == MANIFEST else _dcli_entry(item, base)
            if entry.name in first_index:
                raise _EntryError(
                    f"the capture name {entry.name!r} is also used by entry "
                    f"{first_index[entry.name]}; capture names are unique in a project"
                )
            first_index[entry.name] = index
            entries.append(entry)
        except _EntryError as exc:
            failed[key if key not in failed else f"entry {index}"] = f"entry {index}: {exc}"
    return fmt, entries, failed


def _scalar(value: Any, what: str) -> Value:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _EntryError(f"{what} must be a string or a number, not {value!r:.80}")
    return value


def _index(value: Any, what: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _EntryError(f"{what} must be a whole number (a sample index), not {value!r:.80}")
    return value


def _segment(item: Any, label_field: str, where: str, session: str | None) -> _SegmentSpec:
    if not isinstance(item, dict):
        raise _EntryError(f"{where} is a JSON object, not {item!r:.80}")
    label = item.get(label_field)
    if not isinstance(label, str) or not label:
        raise _EntryError(f"{where}: {label_field!r} must be the label's name")
    return _SegmentSpec(
        label=label,
        value=_scalar(item.get("value"), f"{where}: 'value'"),
        start=_index(item.get("start"), f"{where}: 'start'"),
        end=_index(item.get("end"), f"{where}: 'end'"),
        session=session,
    )


def _list(item: dict[str, Any], name: str) -> list[Any]:
    value = item.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _EntryError(f"{name!r} must be a list")
    return value


def _manifest_entry(item: dict[str, Any], base: Path) -> _Entry:
    file = str(item["file"])
    rate = item.get("sample_rate_hz")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float)):
        raise _EntryError(f"'sample_rate_hz' must be a number, not {rate!r:.80}")
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _EntryError("'metadata' must be an object {key: value}")
    return _Entry(
        name=Path(file).name,
        path=base / file,
        sample_rate=float(rate) if rate is not None else None,
        metadata={
            str(key): _scalar(value, f"metadata {key!r}")
            for key, value in metadata.items()
            if value is not None
        },
        segments=[
            _segment(seg, "label", f"segment {number}", None)
            for number, seg in enumerate(_list(item, "segments"))
        ],
    )


def _dcli_entry(item: dict[str, Any], base: Path) -> _Entry:
    file = str(item["file_name"])
    metadata: dict[str, Value] = {}
    for number, pair in enumerate(_list(item, "metadata")):
        if not isinstance(pair, dict) or not isinstance(pair.get("name"), str):
            raise _EntryError(f"metadata {number} must be {{'name', 'value'}}")
        if pair.get("value") is not None:
            metadata[pair["name"]] = _scalar(pair["value"], f"metadata {pair['name']!r}")
    segments = []
    for number, session in enumerate(_list(item, "sessions")):
        if not isinstance(session, dict):
            raise _EntryError(f"session {number} must be {{'session_name', 'segments'}}")
        name = session.get("session_name")
        session_name = str(name) if name not in (None, "") else None
        for seg_number, seg in enumerate(_list(session, "segments")):
            where = f"session {number} segment {seg_number}"
            segments.append(_segment(seg, "name", where, session_name))
    return _Entry(
        name=Path(file).name,
        path=base / file,
        sample_rate=None,
        metadata=metadata,
        segments=segments,
    )


# -- the import -----------------------------------------------------------------------------


class _Importer:
    def __init__(
        self,
        captures: Captures,
        report: ImportReport,
        progress: Callable[[ImportEvent], None] | None,
    ) -> None:
        self._captures = captures
        self._connection = captures._connection
        self._project_uuid = captures._project.uuid
        self._base = captures._base
        self._report = report
        self._progress = progress
        self._segmenters: dict[str, int] | None = None

    def _emit(self, event: ImportEvent) -> None:
        if self._progress is not None:
            self._progress(event)

    def _fail(self, name: str, message: str) -> None:
        previous = self._report.failed.get(name)
        self._report.failed[name] = f"{previous}; {message}" if previous else message

    # -- 1. definitions --------------------------------------------------------------------

    def definitions(self, entries: list[_Entry]) -> tuple[dict[str, Label], dict[str, Label]]:
        """Create the metadata keys and labels the entries use, or add their missing values."""
        keys: dict[str, list[Value]] = {}
        labels: dict[str, list[Value]] = {}
        for entry in entries:
            for key, value in entry.metadata.items():
                keys.setdefault(key, []).append(value)
            for spec in entry.segments:
                labels.setdefault(spec.label, []).append(spec.value)
        existing_keys = {
            d.name: d for d in list_definitions(self._connection, self._project_uuid, "metadata")
        }
        existing_labels = {
            d.name: d for d in list_definitions(self._connection, self._project_uuid, "label")
        }
        for name in keys:
            if name in existing_labels:
                raise CapturehubError(
                    f"{name!r} is a segment label in this project, but the manifest uses it as "
                    "a metadata key; rename one of them"
                )
        for name in labels:
            if name in existing_keys:
                raise CapturehubError(
                    f"{name!r} is a metadata key in this project, but the manifest uses it as "
                    "a segment label; rename one of them"
                )
            if name in keys:
                raise CapturehubError(
                    f"the manifest uses {name!r} both as a metadata key and as a segment "
                    "label; names are unique across both in a project"
                )
        return (
            self._define("metadata", keys, existing_keys, self._report.metadata_keys_created),
            self._define("label", labels, existing_labels, self._report.labels_created),
        )

    def _define(
        self,
        kind: Kind,
        wanted: dict[str, list[Value]],
        existing: dict[str, Label],
        created: list[str],
    ) -> dict[str, Label]:
        result: dict[str, Label] = {}
        for name, values in wanted.items():
            if name in existing:
                result[name] = add_values(
                    self._connection,
                    self._project_uuid,
                    existing[name],
                    sort_values(values, existing[name].type),
                )
                continue
            label_type = infer_type(values)
            result[name] = create_definition(
                self._connection,
                self._project_uuid,
                kind,
                name,
                sort_values(values, label_type),
                type=label_type,
                dropdown=kind == "label",
                exist_ok=True,
            )
            created.append(name)
        return result

    # -- 2. uploads ------------------------------------------------------------------------

    def upload(
        self, entries: list[_Entry], workers: int, asynchronous: bool
    ) -> list[tuple[_Entry, dict[str, Any]]]:
        """Upload the missing files; answer (entry, capture JSON) for uploaded and skipped."""
        existing = {capture.name: capture for capture in self._captures.get_captures()}
        total = len(entries)
        done = 0
        kept: list[tuple[_Entry, dict[str, Any]]] = []
        runnable = []
        for entry in entries:
            if entry.path.is_file():
                runnable.append(entry)
                continue
            done += 1
            message = f"file not found: {entry.path}"
            self._fail(entry.name, message)
            self._emit(ImportEvent("upload", done, total, entry.name, "failed", message))

        def one(entry: _Entry) -> tuple[str, dict[str, Any] | None, str]:
            try:
                resumed = upload_unless_there(
                    self._captures,
                    entry.name,
                    entry.path,
                    existing=existing.get(entry.name),
                    asynchronous=asynchronous,
                    capture_info={"set_sample_rate": entry.sample_rate}
                    if entry.sample_rate is not None
                    else None,
                )
            except CaptureExistsError:
                return "failed", None, "the name was taken, then freed, during the upload"
            except CapturehubError as exc:
                return "failed", None, f"upload refused: {exc.detail}"
            except OSError as exc:
                return "failed", None, f"cannot read {entry.path}: {exc}"
            if resumed.status == "conflict":
                return (
                    "conflict",
                    None,
                    f"conflict: a capture named {entry.name!r} is already on the server and "
                    f"{resumed.why}; it was not overwritten (rename or delete one of them)",
                )
            return resumed.status, resumed.capture.capture_info, ""

        with transfer_pool(workers) as pool:
            futures: dict[Future[tuple[str, dict[str, Any] | None, str]], _Entry] = {
                pool.submit(one, entry): entry for entry in runnable
            }
            outcomes: dict[str, tuple[str, dict[str, Any] | None, str]] = {}
            for future in as_completed(futures):
                entry = futures[future]
                status, info, message = future.result()
                outcomes[entry.name] = (status, info, message)
                done += 1
                self._emit(ImportEvent("upload", done, total, entry.name, status, message))
        for entry in runnable:  # the report lists captures in manifest order
            status, info, message = outcomes[entry.name]
            if status == "uploaded":
                self._report.uploaded.append(entry.name)
            elif status == "skipped":
                self._report.skipped.append(entry.name)
            elif status == "conflict":
                self._report.conflicts.append(entry.name)
            if message:
                self._fail(entry.name, message)
            if info is not None and status in ("uploaded", "skipped"):
                kept.append((entry, info))
        return kept

    def sample_rates(self, kept: list[tuple[_Entry, dict[str, Any]]]) -> None:
        """Give skipped captures the manifest's sample rate when theirs differs."""
        for position, (entry, info) in enumerate(kept):
            rate = entry.sample_rate
            if rate is None or info.get("set_sample_rate") == rate:
                continue
            if entry.name not in self._report.skipped:
                continue
            path = f"{self._base}capture/{segment(info['uuid'])}/"
            try:
                answer = json_body(
                    self._connection.request("PUT", path, json={"set_sample_rate": rate})
                )
            except APIError as exc:
                self._fail(entry.name, f"sample rate not set: {exc.detail}")
                continue
            kept[position] = (entry, answer)
            self._report.updated.append(entry.name)

    # -- 3. processing ---------------------------------------------------------------------

    def await_processing(
        self, kept: list[tuple[_Entry, dict[str, Any]]]
    ) -> list[tuple[_Entry, dict[str, Any]]]:
        """Wait until the server processed every kept capture; drop those that failed."""
        by_uuid = {info["uuid"]: (entry, info) for entry, info in kept}
        pending = {
            uuid for uuid, (_, info) in by_uuid.items() if info["task_state"] in PENDING_STATES
        }
        total = len(by_uuid)
        done = total - len(pending)
        delay = _POLL_FIRST
        while pending:
            time.sleep(delay)
            delay = min(delay * 1.5, _POLL_MAX)
            busy = {
                info["uuid"]
                for info in iter_capture_list(
                    self._connection, self._base + "capture/", {"task_state": "SENT,STARTED"}
                )
            }
            for uuid in sorted(pending - busy):
                done += 1
                self._emit(ImportEvent("process", done, total, by_uuid[uuid][0].name, "ready"))
            pending &= busy
        failures = {
            info["uuid"]: info
            for info in iter_capture_list(
                self._connection, self._base + "capture/", {"task_state": "FAILURE"}
            )
        }
        ready = []
        for uuid, (entry, info) in by_uuid.items():
            if uuid in failures:
                message = (
                    f"the server could not process the file: {failures[uuid].get('task_result')}"
                )
                self._fail(entry.name, message)
                self._emit(ImportEvent("process", done, total, entry.name, "failed", message))
                continue
            ready.append((entry, info))
        return ready

    # -- 4. metadata and segments ----------------------------------------------------------

    def metadata(self, ready: list[tuple[_Entry, dict[str, Any]]], keys: dict[str, Label]) -> None:
        wanted = [(entry, info) for entry, info in ready if entry.metadata]
        if not wanted:
            return
        have: dict[tuple[str, str], Any] = {}
        for item in iter_list(
            self._connection,
            self._base + "metadata-relationship/",
            page_size=RELATIONSHIP_PAGE,
        ):
            have[(item["capture"], item["label_name"])] = item["value"]
        items: list[dict[str, Any]] = []
        owners: list[str] = []
        for entry, info in wanted:
            for key, value in entry.metadata.items():
                label = keys[key]
                current = have.get((info["uuid"], key))
                if current is not None and comparable(current, label.type) == comparable(
                    value, label.type
                ):
                    continue
                items.append({"capture": info["uuid"], "label": label.uuid, "label_value": value})
                owners.append(entry.name)
        self._report.metadata_set = self._bulk(
            "metadata-relationship/", items, owners, "metadata", "metadata not set"
        )

    def segments(
        self, ready: list[tuple[_Entry, dict[str, Any]]], labels: dict[str, Label]
    ) -> None:
        wanted = [(entry, info) for entry, info in ready if entry.segments]
        if not wanted:
            return
        types = {name: label.type for name, label in labels.items()}
        have: dict[str, Counter[tuple[Any, ...]]] = defaultdict(Counter)
        for row in iter_list(
            self._connection, self._base + "label-relationship/", page_size=RELATIONSHIP_PAGE
        ):
            name = row["label_name"]
            value = comparable(row["value"], types.get(name, "string"))
            have[row["capture"]][(name, value, row[START], row[END])] += 1
        items: list[dict[str, Any]] = []
        owners: list[str] = []
        for entry, info in wanted:
            present = have[info["uuid"]]
            for spec in entry.segments:
                label = labels[spec.label]
                key = (spec.label, comparable(spec.value, label.type), spec.start, spec.end)
                if present[key] > 0:  # already there (each existing segment counts once)
                    present[key] -= 1
                    continue
                item: dict[str, Any] = {
                    "capture": info["uuid"],
                    "label": label.uuid,
                    "label_value": spec.value,
                    START: spec.start,
                    END: spec.end,
                }
                if spec.session is not None:
                    item["segmenter"] = self._segmenter(spec.session)
                items.append(item)
                owners.append(entry.name)
        self._report.segments_added = self._bulk(
            "label-relationship/", items, owners, "segments", "segments not added"
        )

    def _segmenter(self, name: str) -> int:
        """The id of the segmenter named after a DCLI session, created when missing."""
        path = self._base + "segmenter/"
        if self._segmenters is None:
            self._segmenters = {}
            for item in self._connection.get_json(path):
                self._segmenters.setdefault(str(item["name"]), int(item["id"]))
        if name not in self._segmenters:
            created = json_body(
                self._connection.request("POST", path, json={"name": name, "custom": True})
            )
            self._segmenters[name] = int(created["id"])
        return self._segmenters[name]

    def _bulk(
        self,
        route: str,
        items: list[dict[str, Any]],
        owners: list[str],
        stage: str,
        failure: str,
    ) -> int:
        """POST the items in chunks; a refused chunk is sent again without the captures the
        server named, which are reported. Answers the number of items written."""
        path = self._base + route
        written = 0
        total = len(items)
        for start in range(0, total, BULK_SIZE):
            batch = list(
                zip(
                    items[start : start + BULK_SIZE], owners[start : start + BULK_SIZE], strict=True
                )
            )
            while batch:
                try:
                    answer = json_body(
                        self._connection.request("POST", path, json=[item for item, _ in batch])
                    )
                except ValidationError as exc:
                    bad = self._refused(exc, batch, failure)
                    if not bad:
                        break
                    batch = [(item, owner) for item, owner in batch if owner not in bad]
                    continue
                except APIError as exc:
                    for owner in dict.fromkeys(owner for _, owner in batch):
                        self._fail(owner, f"{failure}: {exc.detail}")
                        self._emit(ImportEvent(stage, written, total, owner, "failed", exc.detail))
                    break
                if not isinstance(answer, list):
                    raise ServerError(f"unexpected answer from {path}: {answer!r:.200}")
                written += len(batch)
                self._emit(ImportEvent(stage, written, total, None, "sent"))
                break
        return written

    def _refused(
        self, exc: ValidationError, batch: list[tuple[dict[str, Any], str]], failure: str
    ) -> set[str]:
        """Report the captures whose items the server refused; answer their names (empty when
        the error names no item: then every capture of the batch is reported)."""
        messages: dict[str, list[str]] = defaultdict(list)
        for key, texts in (exc.data or {}).items():
            head, _, _ = str(key).partition(".")
            if head.isdigit() and int(head) < len(batch):
                owner = batch[int(head)][1]
                messages[owner].extend(str(text) for text in texts)
        if not messages:
            for owner in dict.fromkeys(owner for _, owner in batch):
                self._fail(owner, f"{failure}: {exc.detail}")
            return set()
        for owner, texts in messages.items():
            self._fail(owner, f"{failure}: {' '.join(dict.fromkeys(texts))}")
        return set(messages)


def import_dataset(
    captures: Captures,
    manifest: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    workers: int = 8,
    asynchronous: bool = True,
    progress: Callable[[ImportEvent], None] | None = None,
) -> ImportReport:
    """See :meth:`Captures.import_dataset`."""
    manifest_path = Path(manifest)
    fmt, entries, failed = read_manifest(
        manifest_path, Path(data_dir) if data_dir is not None else None
    )
    report = ImportReport(manifest=manifest_path, format=fmt, failed=dict(failed))
    importer = _Importer(captures, report, progress)
    keys, labels = importer.definitions(entries)
    kept = importer.upload(entries, workers, asynchronous)
    importer.sample_rates(kept)
    ready = importer.await_processing(kept)
    importer.metadata(ready, keys)
    importer.segments(ready, labels)
    importer._emit(
        ImportEvent("done", len(entries), len(entries), None, "ok" if report.ok else "failed")
    )
    return report


# -- export ---------------------------------------------------------------------------------


def manifest_entries(
    captures: Captures, filters: Mapping[str, Any] | None = None
) -> tuple[list[dict[str, Any]], list[Capture]]:
    """The manifest entries of the project's captures (those matching ``filters``), sorted by
    file name, and those captures."""
    connection = captures._connection
    project_uuid = captures._project.uuid
    selected = captures.query(filters) if filters else captures.get_captures()
    if not selected:
        return [], []
    key_order = list_definitions(connection, project_uuid, "metadata")
    key_types = {label.name: label.type for label in key_order}
    label_types = {
        label.name: label.type for label in list_definitions(connection, project_uuid, "label")
    }
    wanted = {capture.uuid for capture in selected}
    metadata: dict[str, dict[str, Value]] = defaultdict(dict)
    for item in iter_list(
        connection, captures._base + "metadata-relationship/", page_size=RELATIONSHIP_PAGE
    ):
        if item["capture"] in wanted:
            name = item["label_name"]
            metadata[item["capture"]][name] = typed_value(item["value"], key_types.get(name, ""))
    segments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in iter_list(
        connection, captures._base + "label-relationship/", page_size=RELATIONSHIP_PAGE
    ):
        if item["capture"] in wanted:
            name = item["label_name"]
            segments[item["capture"]].append(
                {
                    "label": name,
                    "value": typed_value(item["value"], label_types.get(name, "")),
                    "start": item[START],
                    "end": item[END],
                }
            )
    entries = []
    files: dict[str, str] = {}
    for capture in selected:
        file = capture.download_name
        if file in files:
            raise CapturehubError(
                f"captures {files[file]!r} and {capture.name!r} would both be written as "
                f"{file!r}; rename one of them, or export them separately with filters"
            )
        files[file] = capture.name
        entry: dict[str, Any] = {"file": file}
        rate = capture.set_sample_rate
        if rate is not None:
            entry["sample_rate_hz"] = int(rate) if float(rate).is_integer() else rate
        values = metadata.get(capture.uuid, {})
        entry["metadata"] = {
            label.name: values[label.name] for label in key_order if label.name in values
        }
        entry["segments"] = sorted(
            segments.get(capture.uuid, []),
            key=lambda seg: (seg["start"], seg["end"], seg["label"], str(seg["value"])),
        )
        entries.append(entry)
    entries.sort(key=lambda entry: entry["file"])
    return entries, selected


def export_manifest(
    captures: Captures,
    path: str | os.PathLike[str],
    *,
    filters: Mapping[str, Any] | None = None,
    download: bool = False,
) -> Path:
    """See :meth:`Captures.export_manifest`."""
    target = Path(path)
    entries, selected = manifest_entries(captures, filters)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        partial.write_text(
            json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    if download and selected:
        with transfer_pool(8) as pool:
            for future in [pool.submit(capture.download, target.parent) for capture in selected]:
                future.result()
    return target
