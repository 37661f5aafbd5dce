"""The plot window of a capture: the capture looked up in the caller's team, its window read
(window.py), the answer in plain JSON values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from capturehub.server.auth.service import Caller
from capturehub.server.captures import service as captures
from capturehub.server.context import AppContext
from capturehub.server.errors import BadRequest, Conflict, NotFound
from capturehub.server.plots.window import PlotWindow, WindowError, columnar_window
from capturehub.storage import BlobNotFound

MAX_BUCKETS = 4000
DEFAULT_BUCKETS = 1000


@dataclass(frozen=True)
class WindowRequest:
    start: int | None
    end: int | None
    buckets: int
    channels: str | None


def plot_window(
    context: AppContext,
    caller: Caller,
    project_uuid: str,
    capture_uuid: str,
    request: WindowRequest,
) -> dict[str, Any]:
    with context.db.read() as session:
        capture = captures.get_capture(session, caller, project_uuid, capture_uuid)
    if capture.task_state != "SUCCESS" or not capture.columnar_key:
        if capture.task_state == "FAILURE":
            why = f"its processing failed: {capture.task_result}"
        else:
            why = f"it is not processed yet (task_state {capture.task_state}); ask again once it "
            why += "is SUCCESS"
        raise Conflict(f"Capture {capture.name!r} has no samples to plot: {why}.")
    try:
        window = columnar_window(
            context.blobs,
            capture.columnar_key,
            start=request.start,
            end=request.end,
            buckets=request.buckets,
            channels=request.channels,
        )
    except WindowError as error:
        raise BadRequest(str(error), data={error.parameter: [str(error)]}) from None
    except BlobNotFound:
        raise NotFound(
            f"Capture {capture_uuid} was deleted or its file replaced meanwhile; ask again."
        ) from None
    return window_json(window, capture.set_sample_rate or capture.calculated_sample_rate)


def window_json(window: PlotWindow, sample_rate: float | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "start": window.start,
        "end": window.end,
        "total": window.total,
        "sample_rate": sample_rate,
        "channels": window.channels,
        "resolution": window.resolution,
        "level": window.level,
        "index": window.index.tolist(),
    }
    if window.resolution == "raw":
        body["values"] = [json_numbers(values) for values in window.values]
    else:
        body["min"] = [json_numbers(values) for values in window.minimum]
        body["max"] = [json_numbers(values) for values in window.maximum]
    return body


def json_numbers(values: npt.NDArray[np.generic]) -> list[Any]:
    """Plain numbers for JSON, NaN and ±inf as null (JSON has no word for them)."""
    items: list[Any] = values.tolist()
    if values.dtype.kind == "f":
        for position in np.flatnonzero(~np.isfinite(values)).tolist():
            items[position] = None
    return items
