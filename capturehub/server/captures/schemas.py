"""The capture's JSON shape and the parsing of the form fields clients send."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from capturehub.ingest import formats as file_formats
from capturehub.server.errors import BadRequest
from capturehub.server.formats import timestamp
from capturehub.server.models import RECORDING, Capture

TASK_STATES = ("SENT", "STARTED", "SUCCESS", "FAILURE", RECORDING)

# Values the SensiML SDK (and others) send for "no value" when they echo a capture back.
_EMPTY = {"", "none", "null", "nan"}


def capture_json(capture: Capture | Row[Any], configuration_uuid: str | None) -> dict[str, Any]:
    """The wire shape (wire-api §5). Never ``filename``, ``path``, ``capture_info``,
    ``connection`` or ``project``: the SensiML SDK would misuse them.

    ``capture`` is an ORM object or a Core row of the capture table (lists use rows: loading
    them is several times cheaper than ORM objects).

    A capture being recorded live is shown with ``task_state`` SENT and ``recording`` true:
    the SensiML SDK's ``await_ready()`` raises on a state it does not know (RECORDING, or
    PENDING) but waits on SENT, which is what a recording is to it, a capture whose file is
    on its way; its ``ready`` answers False until the recording is stopped and processed."""
    recording = capture.task_state == RECORDING
    return {
        "uuid": capture.uuid,
        "name": capture.name,
        "created_at": timestamp(capture.created_at),
        "last_modified": timestamp(capture.last_modified),
        "version": capture.version,
        "file_size": capture.file_size,
        "format": capture.format,
        "sha256": capture.sha256,
        "number_samples": capture.number_samples,
        "max_sequence": capture.max_sequence,
        "set_sample_rate": capture.set_sample_rate,
        "calculated_sample_rate": capture.calculated_sample_rate,
        "capture_configuration_uuid": configuration_uuid,
        "task_state": "SENT" if recording else capture.task_state,
        "task_result": capture.task_result,
        "recording": recording,
        "schema": capture.schema or {},
        "statistics": capture.statistics or {},
        "last_modified_video": None,
    }


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
