"""One capture: a recording (CSV or WAV) stored on the server, and its processing state.

A :class:`Capture` mirrors the server's capture object (wire-api §5): the fields it holds are
the ones the server last sent (``refresh()`` reloads them). Its methods follow the API in the
seed (``sensiml.datamanager.capture.Capture``) with the corrections listed in docs/sdk.md:
``download()`` streams to disk and raises on errors, ``update()`` works with or without a new
file, and ``await_ready()`` answers True/False or raises with the server's message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from capturehub._transport import Connection, Upload, download, json_body
from capturehub._transport.local_files import accepting_location, location_in
from capturehub.datamanager._wire import parse_time, segment
from capturehub.exceptions import (
    CaptureExistsError,
    CapturehubError,
    CaptureUploadFailureError,
)
from capturehub.ingest import formats as file_formats

if TYPE_CHECKING:
    import pandas as pd

    from capturehub.datamanager.metadata import CaptureMetadata
    from capturehub.datamanager.project import Project
    from capturehub.datamanager.segments import CaptureSegments

# Fields the server lets a client write (§5); everything else it sends is read-only.
WRITABLE_FIELDS = (
    "name",
    "set_sample_rate",
    "calculated_sample_rate",
    "capture_configuration_uuid",
)
# RECORDING: a live recording (the server sends SENT with ``recording: true``).
PENDING_STATES = frozenset({"SENT", "STARTED", "RECORDING"})
# A synchronous upload is answered only after the server parsed the file: allow for big files.
UPLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=600.0)
UPLOAD_ERRORS = {409: CaptureExistsError, 400: CaptureUploadFailureError}

_Result = TypeVar("_Result")


class _HybridMethod(Generic[_Result]):
    """A method callable on the class (``Capture.initialize_from_dict(d)``, as the seed
    documents it) or on an instance (``capture.initialize_from_dict(d)``, filling that one)."""

    def __init__(self, function: Callable[..., _Result]) -> None:
        self._function = function
        self.__doc__ = function.__doc__

    def __get__(self, instance: object, owner: type) -> Callable[..., _Result]:
        def bound(*args: Any, **kwargs: Any) -> _Result:
            return self._function(owner, instance, *args, **kwargs)

        bound.__doc__ = self.__doc__
        return bound


class Capture:
    """A capture of a project. Usually obtained from :class:`Captures`, not built by hand."""

    def __init__(
        self,
        connection: Connection | None,
        project: Project | None,
        filename: str = "",
        path: str = "",
        uuid: str = "",
        capture_configuration_uuid: str | None = None,
        capture_info: dict[str, Any] | None = None,
        created_at: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._connection = connection
        self._project = project
        info: dict[str, Any] = {**(capture_info or {}), **kwargs}
        if not filename and path:
            filename = os.path.basename(path)
        for key, value in (
            ("name", filename),
            ("uuid", uuid),
            ("capture_configuration_uuid", capture_configuration_uuid),
            ("created_at", created_at),
        ):
            if value or key not in info:
                info[key] = value
        self._info = info
        self._local_path = os.fspath(path) if path else ""
        # A local file not yet sent: insert() sends it, update() replaces the server's data.
        self._pending_file = bool(path)

    # -- fields --------------------------------------------------------------------------------

    @property
    def uuid(self) -> str:
        """Auto generated unique identifier for the Capture object."""
        return str(self._info.get("uuid") or "")

    @property
    def name(self) -> str:
        """The capture's name in its project (unique there). Set it, then ``update()``."""
        return str(self._info.get("name") or "")

    @name.setter
    def name(self, value: str) -> None:
        self._info["name"] = value

    # The seed calls the name ``filename``; both spellings work.
    filename = name

    @property
    def path(self) -> str:
        """The local file this capture was created from (or assigned); else the absolute URL
        of the server's copy (``…/capture/{uuid}/file/``). Assign a local path, then call
        ``update()``, to replace the capture's data."""
        if self._local_path:
            return self._local_path
        if self._connection is not None and self._project is not None and self.uuid:
            return self._connection.url_for(self._url("file/"))
        return ""

    @path.setter
    def path(self, value: str | os.PathLike[str]) -> None:
        self._local_path = os.fspath(value)
        self._pending_file = bool(self._local_path)

    @property
    def capture_info(self) -> dict[str, Any]:
        """Info about the capture: every field the server sent (a copy)."""
        return dict(self._info)

    @property
    def created_at(self) -> datetime | None:
        return parse_time(self._info.get("created_at"))

    @property
    def last_modified(self) -> datetime | None:
        return parse_time(self._info.get("last_modified"))

    @property
    def task_state(self) -> str | None:
        """``SENT`` → ``STARTED`` → ``SUCCESS`` or ``FAILURE`` (as of the last refresh);
        ``RECORDING`` while it is a live recording (docs/recording.md)."""
        if self._info.get("recording"):
            return "RECORDING"
        return self._info.get("task_state")

    @property
    def recording(self) -> bool:
        """True while the capture is a live recording, not stopped yet (as of the last
        refresh)."""
        return bool(self._info.get("recording"))

    @property
    def task_result(self) -> Any:
        """The server's message when processing failed."""
        return self._info.get("task_result")

    @property
    def number_samples(self) -> int | None:
        return self._info.get("number_samples")

    @property
    def max_sequence(self) -> int | None:
        return self._info.get("max_sequence")

    @property
    def file_size(self) -> int | None:
        return self._info.get("file_size")

    @property
    def format(self) -> str | None:
        """``.csv`` or ``.wav``."""
        return self._info.get("format")

    @property
    def version(self) -> int | None:
        return self._info.get("version")

    @property
    def schema(self) -> dict[str, Any]:
        return dict(self._info.get("schema") or {})

    @property
    def set_sample_rate(self) -> float | None:
        return self._info.get("set_sample_rate")

    @set_sample_rate.setter
    def set_sample_rate(self, value: float | None) -> None:
        self._info["set_sample_rate"] = value

    @property
    def calculated_sample_rate(self) -> float | None:
        return self._info.get("calculated_sample_rate")

    @calculated_sample_rate.setter
    def calculated_sample_rate(self, value: float | None) -> None:
        self._info["calculated_sample_rate"] = value

    @property
    def capture_configuration_uuid(self) -> str | None:
        return self._info.get("capture_configuration_uuid")

    @capture_configuration_uuid.setter
    def capture_configuration_uuid(self, value: str | None) -> None:
        self._info["capture_configuration_uuid"] = value

    @property
    def statistics(self) -> dict[str, dict[str, Any]]:
        """Per-channel ``{count, min, max, mean, std, nan_count}`` computed by the server when
        it processed the capture; empty until processing succeeded (call ``refresh()``)."""
        return dict(self._info.get("statistics") or {})

    @property
    def metadata(self) -> CaptureMetadata:
        """The capture's metadata, a dict that writes through to the server:
        ``capture.metadata["Subject"] = "S01"``, ``.update({...})``, ``del ...["Side"]``.
        Each access reads the server afresh."""
        from capturehub.datamanager.metadata import CaptureMetadata

        return CaptureMetadata(self)

    @property
    def segments(self) -> CaptureSegments:
        """The capture's segments, in sample order: iterate, ``len``, ``add(label, value,
        start, end)``, ``remove(segment)``, ``to_dataframe()``. Each access reads the server
        afresh."""
        from capturehub.datamanager.segments import CaptureSegments

        return CaptureSegments(self)

    # -- server calls --------------------------------------------------------------------------

    @_HybridMethod
    def initialize_from_dict(
        cls: type[Capture],
        self: Capture | None,
        capture_dict: dict[str, Any],
        *,
        connection: Connection | None = None,
        project: Project | None = None,
    ) -> Capture:
        """Reads a dictionary of properties and populates a single capture.

        On an instance it fills that capture; on the class it builds a new one (pass
        ``connection=`` and ``project=`` for it to reach the server).
        """
        if self is None:
            self = cls(connection, project)
        self._info = dict(capture_dict)
        if "name" not in self._info and "filename" in capture_dict:
            self._info["name"] = capture_dict["filename"]
        return self

    def insert(self, asynchronous: bool = False) -> httpx.Response:
        """Upload the local file (``path``) as a new capture named ``name``.

        Raises CaptureExistsError when the name is taken, CaptureUploadFailureError when the
        server refuses the file (with ``asynchronous=False``: also when it cannot parse it).
        """
        connection, project = self._bound()
        local = self._require_local_file()
        fields = {"name": self.name or local.name, "asynchronous": str(bool(asynchronous))}
        fields.update(self._writable_form_fields(exclude=("name",)))
        response = connection.request(
            "POST",
            f"project/{segment(project.uuid)}/capture/",
            data=fields,
            upload=_upload_of(local),
            timeout=UPLOAD_TIMEOUT,
            errors=UPLOAD_ERRORS,
        )
        self._info = json_body(response)
        self._pending_file = False
        return response

    def update(self) -> httpx.Response:
        """Send the writable fields (name, sample rates, configuration) to the server, and the
        local file too if ``path`` was assigned since the last upload (the server then
        re-processes the capture). Renaming onto a taken name raises CaptureExistsError."""
        connection, _ = self._bound()
        if self._pending_file:
            response = connection.request(
                "PUT",
                self._url(),
                data=self._writable_form_fields(),
                upload=_upload_of(self._require_local_file()),
                timeout=UPLOAD_TIMEOUT,
                errors=UPLOAD_ERRORS,
            )
        else:
            fields = {k: self._info[k] for k in WRITABLE_FIELDS if self._info.get(k) is not None}
            response = connection.request(
                "PUT", self._url(), json=fields, errors={409: CaptureExistsError}
            )
        self._info = json_body(response)
        self._pending_file = False
        return response

    def refresh(self) -> httpx.Response:
        """Reload every field from the server (NotFoundError if the capture was deleted)."""
        connection, _ = self._bound()
        response = connection.request("GET", self._url())
        self._info = json_body(response)
        return response

    def delete(self) -> httpx.Response:
        """Delete the capture, its file, metadata and segments from the server."""
        connection, _ = self._bound()
        return connection.request("DELETE", self._url())

    def download(self, outdir: str | os.PathLike[str] | None = None) -> Path:
        """Stream the capture's original file, byte for byte, into ``outdir`` (default: the
        current directory) and answer the path written.

        The file is named after the capture, with the capture's format (``.csv``/``.wav``)
        appended when the name lacks it; path separators in the name become ``_``. An error
        answer raises (nothing is written) and an interrupted download is resumed or removed,
        never left half-written under the final name.
        """
        connection, _ = self._bound()
        directory = Path(outdir) if outdir is not None else Path.cwd()
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / self.download_name
        partial = target.with_name(target.name + ".part")
        try:
            download(connection, self._url("file/"), partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def get_data(self, start: int | None = None, end: int | None = None) -> pd.DataFrame:
        """The capture's samples as a DataFrame, read from the server's columnar copy.
        ``start``/``end`` select sample indices ``start <= i < end``.

        On the server's machine the copy is memory-mapped in place (the server names the file
        and the SDK checks it opened that very file); elsewhere it comes as an Arrow stream.
        """
        from capturehub.datamanager import _arrow

        connection, _ = self._bound()
        params = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
        if connection.reads_local_files is not False:
            accept = accepting_location(_arrow.ARROW_STREAM_TYPE)
            with connection.stream(
                "GET", self._url("data/"), params=params, headers={"Accept": accept}
            ) as response:
                location = location_in(response)
                if location is None:
                    return self._read_stream(connection, response)
            frame = _arrow.read_local_file(location, start, end)
            # Remembered per connection: a client that cannot see the server's files (another
            # machine, a container) asks for the stream directly from then on.
            connection.reads_local_files = frame is not None
            if frame is not None:
                return frame
        with connection.stream(
            "GET", self._url("data/"), params=params, headers={"Accept": _arrow.ARROW_STREAM_TYPE}
        ) as response:
            return self._read_stream(connection, response)

    @staticmethod
    def _read_stream(connection: Connection, response: httpx.Response) -> pd.DataFrame:
        from capturehub.datamanager._arrow import read_arrow_stream

        return read_arrow_stream(
            connection.iter_body(response),
            response.headers.get("content-type", ""),
            str(response.url),
        )

    @property
    def ready(self) -> bool:
        """Asks the server: True once processed, False while SENT/STARTED; raises
        CaptureUploadFailureError (with the server's message) if processing failed."""
        self.refresh()
        state = self.task_state
        if state == "FAILURE":
            raise CaptureUploadFailureError(
                f"processing of capture {self.name!r} failed: {self.task_result}"
            )
        return state not in PENDING_STATES

    def await_ready(self, sleep: float = 3, retries: int = 0) -> bool:
        """Block until processed: True at SUCCESS, False when ``retries`` polls (0: no limit)
        ran out first; raises CaptureUploadFailureError at FAILURE."""
        polls = 0
        while not self.ready:
            polls += 1
            if retries and polls >= retries:
                return False
            time.sleep(sleep)
        return True

    # -- helpers -------------------------------------------------------------------------------

    def _bound(self) -> tuple[Connection, Project]:
        if self._connection is None or self._project is None:
            raise CapturehubError(
                "this Capture is not bound to a connection and project; get it from "
                "client.project.captures, or pass connection= and project="
            )
        return self._connection, self._project

    def _url(self, suffix: str = "") -> str:
        _, project = self._bound()
        if not self.uuid:
            raise CapturehubError("this capture has no uuid yet; insert() it first")
        return f"project/{segment(project.uuid)}/capture/{segment(self.uuid)}/{suffix}"

    def _require_local_file(self) -> Path:
        if not self._local_path:
            raise CapturehubError("no local file to upload: set capture.path first")
        local = Path(self._local_path)
        if not local.is_file():
            raise FileNotFoundError(f"capture file not found: {local}")
        return local

    def _writable_form_fields(self, exclude: tuple[str, ...] = ()) -> dict[str, str]:
        return {
            key: str(self._info[key])
            for key in WRITABLE_FIELDS
            if key not in exclude and self._info.get(key) not in (None, "")
        }

    @property
    def download_name(self) -> str:
        """The file name :meth:`download` writes: the capture's name with ``/``, ``\\`` and NUL
        made ``_``, its format appended when the name lacks it (the uuid for an unusable name).
        Uploading the folder again gives the same names back."""
        name = self.name or self.uuid
        for separator in ("/", "\\", "\0"):
            name = name.replace(separator, "_")
        if name in ("", ".", ".."):
            name = self.uuid
        suffix = self.format or ""
        if suffix and not name.lower().endswith(suffix.lower()):
            name += suffix
        return name

    def __repr__(self) -> str:
        return f"<Capture name={self.name!r} uuid={self.uuid!r} task_state={self.task_state!r}>"


def _upload_of(local: Path) -> Upload:
    file_format = file_formats.by_filename(local.name)
    content_type = file_format.media_type if file_format else "application/octet-stream"
    return Upload(path=local, filename=local.name, content_type=content_type)
