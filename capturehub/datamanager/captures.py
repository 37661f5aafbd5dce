"""The captures of one project: look-ups, uploads, labels, metadata and statistics.

Follows the seed's ``sensiml.datamanager.captures.Captures`` with one deliberate difference:
nothing is answered from a client-side cache. Every look-up asks the server (by name, by uuid,
by metadata), so a capture deleted or uploaded by anyone is seen at once; the server's filters
keep those look-ups to one small request each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capturehub._transport import Connection, json_body
from capturehub.datamanager._pool import transfer_pool
from capturehub.datamanager._wire import iter_capture_list, segment
from capturehub.datamanager.capture import PENDING_STATES, Capture
from capturehub.datamanager.labels import Label, Value, create_definition, list_definitions
from capturehub.datamanager.query import query_parameters
from capturehub.exceptions import BulkUploadError, CaptureExistsError, NotFoundError, ServerError

if TYPE_CHECKING:
    import pandas as pd

    from capturehub.datamanager.dataset import ImportEvent, ImportReport
    from capturehub.datamanager.project import Project

StrPath = str | os.PathLike[str]


class Captures:
    """Base class for a collection of Captures: those of ``project``."""

    def __init__(self, connection: Connection, project: Project) -> None:
        self._connection = connection
        self._project = project

    @property
    def _base(self) -> str:
        return f"project/{segment(self._project.uuid)}/"

    def _capture(self, info: dict[str, Any]) -> Capture:
        return Capture.initialize_from_dict(
            info, connection=self._connection, project=self._project
        )

    def _list(self, params: dict[str, Any] | None = None) -> list[Capture]:
        return [
            self._capture(info)
            for info in iter_capture_list(self._connection, self._base + "capture/", params)
        ]

    # -- listing and look-ups ------------------------------------------------------------------

    def build_capture_list(self, force: bool = True) -> dict[str, Capture]:
        """Fetch the project's captures from the server: ``{name: Capture}``.

        Always asks the server (``force`` is accepted for compatibility): an answer that could
        hold deleted captures or miss new ones is never returned.
        """
        return {capture.name: capture for capture in self._list()}

    def get_captures(self) -> list[Capture]:
        """Gets all captures from the server (paged, oldest first as the server orders them)."""
        return self._list()

    def get_capture_by_filename(self, filename: str, force: bool = False) -> Capture | None:
        """The capture named ``filename``, or None. Asks the server (``?name=``) every time,
        so ``force`` is not needed (accepted for compatibility)."""
        for capture in self._list({"name": filename}):
            if capture.name == filename:  # exact, even if a server ignored the filter
                return capture
        return None

    def get_capture_by_uuid(self, uuid: str) -> Capture | None:
        """The capture with this uuid in this project, or None."""
        if not uuid:
            return None
        try:
            body = self._connection.get_json(f"{self._base}capture/{segment(uuid)}/")
        except NotFoundError:
            return None
        return self._capture(body)

    def get_captures_by_metadata(self, key: str, value: Any) -> list[Capture]:
        """Captures whose metadata ``key`` equals ``value`` (compared as text by the server).

        Key and value are percent-encoded, so any character (``/``, ``?``, ``#``) is allowed.
        """
        path = f"{self._base}capture/metadata/{segment(f'[{key}]=[{value}]')}/"
        body = self._connection.get_json(path)
        if not isinstance(body, list):
            raise ServerError(f"unexpected answer from {path}: {body!r:.200}")
        return [self._capture(info) for info in body]

    def to_dataframe(self) -> pd.DataFrame:
        """One row per capture: name, uuid, created_at, last_modified, number_samples,
        set_sample_rate, calculated_sample_rate, task_state, format, file_size."""
        from capturehub.datamanager._frames import captures_frame

        return captures_frame(iter_capture_list(self._connection, self._base + "capture/"))

    # -- uploads -------------------------------------------------------------------------------

    def create_capture(
        self,
        filename: str,
        filepath: StrPath,
        asynchronous: bool = True,
        capture_info: dict[str, Any] | None = None,
    ) -> Capture:
        """Upload ``filepath`` as a capture named ``filename``; answer the new Capture.

        The file is streamed from disk. ``capture_info`` may hold ``set_sample_rate``,
        ``calculated_sample_rate`` and ``capture_configuration_uuid``. Raises
        CaptureExistsError if the project already holds that name (decided by the server, so
        a concurrent upload of the same name raises too), CaptureUploadFailureError if the
        server refuses the file, FileNotFoundError if ``filepath`` does not exist.
        """
        capture = Capture(
            self._connection,
            self._project,
            filename=filename,
            path=os.fspath(filepath),
            capture_info=capture_info,
        )
        capture.insert(asynchronous=asynchronous)
        return capture

    def get_or_create(
        self,
        filename: str,
        filepath: StrPath,
        asynchronous: bool = True,
        capture_info: dict[str, Any] | None = None,
    ) -> Capture:
        """The capture named ``filename`` if it exists (its data is not compared), else a new
        one uploaded from ``filepath``. Never raises CaptureExistsError: losing an upload race
        answers the winner's capture."""
        existing = self.get_capture_by_filename(filename)
        if existing is not None:
            return existing
        try:
            return self.create_capture(filename, filepath, asynchronous, capture_info)
        except CaptureExistsError:
            existing = self.get_capture_by_filename(filename)
            if existing is None:
                raise
            return existing

    def upload_many(
        self,
        paths: Sequence[StrPath],
        workers: int = 8,
        *,
        names: Sequence[str] | None = None,
        asynchronous: bool = True,
        exist_ok: bool = False,
    ) -> list[Capture]:
        """Upload many files in parallel (``workers`` at once); answer their captures in the
        order of ``paths``.

        Each capture is named after its file (or ``names[i]``). With ``exist_ok=True`` a name
        already taken answers the existing capture instead of failing. Every file is tried; if
        any failed, BulkUploadError is raised with the captures that succeeded and each
        failure's exception.
        """
        if names is not None and len(names) != len(paths):
            raise ValueError(f"{len(names)} names for {len(paths)} paths")
        capture_names = list(names) if names is not None else [Path(p).name for p in paths]
        upload = self.get_or_create if exist_ok else self.create_capture

        def one(index: int) -> Capture:
            return upload(capture_names[index], paths[index], asynchronous)

        results: list[Capture | None] = [None] * len(paths)
        errors: dict[str, BaseException] = {}
        with transfer_pool(workers) as pool:
            futures = {pool.submit(one, index): index for index in range(len(paths))}
            for future, index in futures.items():
                try:
                    results[index] = future.result()
                except Exception as exc:  # collected: the other uploads go on
                    errors[os.fspath(paths[index])] = exc
        captures = [capture for capture in results if capture is not None]
        if errors:
            raise BulkUploadError(captures, errors)
        return captures

    # -- labels and metadata (§6) --------------------------------------------------------------

    def _definitions(self, kind: str) -> list[dict[str, Any]]:
        body = self._connection.get_json(f"{self._base}{kind}/")
        if not isinstance(body, list):
            raise ServerError(f"unexpected answer from {kind}/: {body!r:.200}")
        return body

    def get_label_names(self) -> list[str]:
        """The names of the project's segment labels."""
        return [item["name"] for item in self._definitions("label")]

    def get_label_names_and_values(self) -> dict[str, list[str]]:
        """Each segment label's name → its values: ``{"Exercise": ["ABD", "PEN"]}``."""
        return {
            item["name"]: [value["value"] for value in item.get("label_values") or []]
            for item in self._definitions("label")
        }

    def get_metadata_names(self) -> list[str]:
        """The names of the project's capture-level metadata keys."""
        return [item["name"] for item in self._definitions("metadata")]

    def get_metadata_names_and_values(self) -> list[dict[str, Any]]:
        """One dict per metadata key: ``{"name": "Subject", "type": "string",
        "values": ["S01", "S02"]}``."""
        return [
            {
                "name": item["name"],
                "type": item.get("type"),
                "values": [value["value"] for value in item.get("label_values") or []],
            }
            for item in self._definitions("metadata")
        ]

    def get_labels(self) -> list[Label]:
        """The project's segment labels as :class:`Label` objects (type, dropdown, values)."""
        return list_definitions(self._connection, self._project.uuid, "label")

    def get_metadata_keys(self) -> list[Label]:
        """The project's metadata keys as :class:`Label` objects (type, dropdown, values)."""
        return list_definitions(self._connection, self._project.uuid, "metadata")

    def create_label(
        self,
        name: str,
        values: Iterable[Value] | None = None,
        *,
        type: str = "string",
        dropdown: bool = True,
        exist_ok: bool = False,
    ) -> Label:
        """Create a segment label with its values: ``create_label("Exercise", ["PEN", "ROW"])``.

        ``type`` is ``"string"``, ``"integer"`` or ``"float"``. A dropdown label (the default)
        accepts only its values in segments; add more by calling again with ``exist_ok=True``,
        which keeps an existing label (its type and dropdown flag unchanged) and adds the
        values it lacks. Otherwise a taken name (by a label or a metadata key) raises
        ConflictError; a value that does not parse as ``type`` raises ValidationError.
        """
        return create_definition(
            self._connection,
            self._project.uuid,
            "label",
            name,
            values,
            type=type,
            dropdown=dropdown,
            exist_ok=exist_ok,
        )

    def create_metadata(
        self,
        name: str,
        values: Iterable[Value] | None = None,
        *,
        type: str = "string",
        dropdown: bool = False,
        exist_ok: bool = False,
    ) -> Label:
        """Create a capture metadata key (and values): ``create_metadata("Age", type="integer")``.

        Not a dropdown by default: any value of the right type may be set, and is created on
        first use. ``dropdown=True`` restricts captures to ``values``. ``exist_ok`` as in
        :meth:`create_label`.
        """
        return create_definition(
            self._connection,
            self._project.uuid,
            "metadata",
            name,
            values,
            type=type,
            dropdown=dropdown,
            exist_ok=exist_ok,
        )

    # -- queries -------------------------------------------------------------------------------

    def query(self, filters: Mapping[str, Any] | None = None, /, **kwargs: Any) -> list[Capture]:
        """The captures matching every filter, fetched in pages of 1,000.

        Keywords name metadata keys, with an optional operator suffix: ``Subject="S01"``,
        ``Subject__in=["S01", "S02"]``, ``Age__gte=30`` (also ``__gt``, ``__lt``, ``__lte``;
        integer and float keys), ``Side__exists=False``. ``name``, ``name__contains``,
        ``task_state`` (a state or a list), ``format`` and ``ordering`` filter the captures'
        own fields. Keys that are not Python names go in a dict: ``query({"Body part":
        "left"})``; ``"metadata.<key>"`` names a metadata key called like a field. An unknown
        key or a range on a string key raises ValidationError with the server's reason.
        """
        merged = {**(filters or {}), **kwargs}
        return self._list(query_parameters(merged))

    # -- datasets ------------------------------------------------------------------------------

    def import_dataset(
        self,
        manifest: str | os.PathLike[str],
        *,
        data_dir: str | os.PathLike[str] | None = None,
        workers: int = 8,
        asynchronous: bool = True,
        progress: Callable[[ImportEvent], None] | None = None,
    ) -> ImportReport:
        """Upload a labelled dataset and set its metadata and segments, in one call.

        ``manifest`` is a capturehub manifest (a list of ``{"file", "sample_rate_hz",
        "metadata", "segments"}``) or SensiML DCLI JSON; files are read relative to
        ``data_dir`` (default: the manifest's folder). Missing files are uploaded
        (``workers`` at a time), files already there with the same content are skipped, a
        name taken by other content is reported as a conflict and left alone; then metadata
        keys, labels and values are created as needed and the missing metadata and segments
        are written in bulk. Running it again changes nothing. ``progress`` receives an
        :class:`ImportEvent` per step. Answers an :class:`ImportReport`; problems with single
        captures are reported there, not raised.
        """
        from capturehub.datamanager.dataset import import_dataset

        return import_dataset(
            self,
            manifest,
            data_dir=data_dir,
            workers=workers,
            asynchronous=asynchronous,
            progress=progress,
        )

    def export_manifest(
        self,
        path: str | os.PathLike[str],
        *,
        filters: Mapping[str, Any] | None = None,
        download: bool = False,
    ) -> Path:
        """Write the project's captures (those matching ``filters``, as for :meth:`query`)
        as a capturehub manifest at ``path`` and answer its path.

        Entries are sorted by file name; ``file`` is the capture's name (with its format
        appended when missing), relative to the manifest's folder; ``sample_rate_hz`` is its
        ``set_sample_rate``; metadata and segments are typed by their key or label. With
        ``download=True`` the capture files are downloaded next to the manifest, so that the
        folder imports anywhere with :meth:`import_dataset`.
        """
        from capturehub.datamanager.dataset import export_manifest

        return export_manifest(self, path, filters=filters, download=download)

    # -- statistics (§7) -----------------------------------------------------------------------

    def get_statistics(self) -> tuple[pd.DataFrame, bool]:
        """Every capture's statistics and whether every capture has finished processing.

        The DataFrame has one row per capture: ``capture_name``, ``capture_uuid``,
        ``total_event_count``, one ``"<label>: <value>"`` count column per label value, one
        column per metadata key, then the server's other figures (``number_samples``,
        ``set_sample_rate``, …). The bool is True when every capture has finished processing
        (none is still SENT or STARTED); a FAILURE has finished, and its row holds no figures.
        """
        from capturehub.datamanager._frames import statistics_frame

        rows = json_body(self._connection.request("GET", f"{self._base}statistics/"))
        if not isinstance(rows, list):
            raise ServerError(f"unexpected answer from statistics/: {rows!r:.200}")
        frame = statistics_frame(rows)
        if rows and all("task_state" in row for row in rows):
            states = {row["task_state"] for row in rows}
        else:
            states = {capture.task_state for capture in self._list()}
        return frame, not states & PENDING_STATES

    def __iter__(self) -> Iterator[Capture]:
        return iter(self._list())

    def __repr__(self) -> str:
        return f"<Captures of project {self._project.name!r}>"
