"""The capture's JSON shape and the parsing of the form fields clients send."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, RowMapping

from capturehub.ingest import formats as file_formats
from capturehub.server.errors import BadRequest
from capturehub.server.formats import timestamp
from capturehub.server.models import RECORDING, Capture

TASK_STATES = ("SENT", "STARTED", "SUCCESS", "FAILURE", RECORDING)

# Values the SensiML SDK (and others) send for "no value" when they echo a capture back.
_EMPTY = {"", "none", "null", "nan"}


def capture_json(
    capture: Capture | Row[Any] | RowMapping, configuration_uuid: str | None
) -> dict[str, Any]:
    """The wire shape (wire-api §5). Never ``filename``, ``path``, ``capture_info``,
    ``connection`` or ``project``: the SensiML SDK would misuse them.

    ``capture`` is an ORM object or a Core row of the capture table (lists use rows: loading
    them is several times cheaper than ORM objects).

    A capture being recorded live is shown with ``task_state`` SENT and ``recording`` true:
    the SensiML SDK's ``await_ready()`` raises on a state it does not know (RECORDING, or
    PENDING) but waits on SENT, which is what a recording is to it, a capture whose file is
    on its way; its ``ready`` answers False until the recording is stopped and processed."""
    # A row's values are read through its mapping: a row's attribute access costs ten times
    # as much as a key lookup (SQLAlchemy 2.1), and a page of 100 captures reads 1,900.
    # A caller that reads the row's mapping itself passes it: each ``_mapping`` makes a new
    # object (a few microseconds, 200 of them on a page when taken twice a row).
    values: RowMapping | _Attributes = (
        capture
        if isinstance(capture, RowMapping)
        else capture._mapping
        if isinstance(capture, Row)
        else _Attributes(capture)
    )
    recording = values["task_state"] == RECORDING
    return {
        "uuid": values["uuid"],
        "name": values["name"],
        "created_at": timestamp(values["created_at"]),
        "last_modified": timestamp(values["last_modified"]),
        "version": values["version"],
        "file_size": values["file_size"],
        "format": values["format"],
        "sha256": values["sha256"],
        "number_samples": values["number_samples"],
        "max_sequence": values["max_sequence"],
        "set_sample_rate": values["set_sample_rate"],
        "calculated_sample_rate": values["calculated_sample_rate"],
        "capture_configuration_uuid": configuration_uuid,
        "task_state": "SENT" if recording else values["task_state"],
        "task_result": values["task_result"],
        "recording": recording,
        "schema": values["schema"] or {},
        "statistics": values["statistics"] or {},
        "last_modified_video": None,
    }


class _Attributes:
    """An ORM capture's attributes read by key, as a row's mapping is."""

    __slots__ = ("_capture",)

    def __init__(self, capture: Capture) -> None:
        self._capture = capture

    def __getitem__(self, name: str) -> Any:
        return getattr(self._capture, name)


def parse_bool(value: str | bool | None, *, field: str, default: bool) -> bool:
    if value is None or isinstance(value, bool):
        return default if value is None else value
    text = value.strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    if text in _EMPTY:
        return default
    raise BadRequest(
        f"{field} must be True or False, not {value!r}.", data={field: ["expected True or False"]}
    )


def parse_rate(value: Any, *, field: str) -> float | None:
    """A sample rate in Hz, or None for "not given"."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _EMPTY):
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(
            f"{field} must be a number of samples per second, not {str(value)[:40]!r}.",
            data={field: ["expected a number"]},
        ) from None
    if not rate > 0 or rate == float("inf"):
        raise BadRequest(
            f"{field} must be a positive number of samples per second, not {value!r}.",
            data={field: ["expected a positive number"]},
        )
    return rate


def parse_optional_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in _EMPTY else text


def format_of(filename: str, fallback_name: str | None = None) -> str:
    """The capture's ``format`` (its suffix, e.g. ``".csv"``) from the file's or capture's name."""
    for candidate in (filename, fallback_name or ""):
        file_format = file_formats.by_filename(candidate)
        if file_format is not None:
            return file_format.suffix
    expected = file_formats.suffixes_text()
    raise BadRequest(
        f"Cannot tell the format of {filename!r}: the file name must end in {expected}.",
        data={"file": [f"expected a {expected} file"]},
    )
