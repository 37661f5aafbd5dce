"""Fixed-size windows cut inside labelled segments: the step from a dataset version to a
training set (``Version.windows``).

For each segment of the label (bounds ``start``..``end``, both included, so ``end - start + 1``
samples) the windows start at ``start``, ``start + step``, ... as long as the whole window
fits in the segment; a segment shorter than ``size`` gives none. A step larger than the size
skips samples between windows. Windows never cross a segment's bounds, so each window has one
label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from capturehub.exceptions import CapturehubError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from capturehub.datamanager.versions import Version, VersionCapture, VersionSegment


def check_window(size: Any, step: Any) -> None:
    for name, number in (("size", size), ("step", step)):
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"window {name} must be a whole number of samples, not {number!r}")
        if number <= 0:
            raise ValueError(f"window {name} must be at least 1 sample, not {number}")


def cut_windows(
    samples: np.ndarray, segments: Sequence[VersionSegment], size: int, step: int
) -> tuple[np.ndarray, list[str]]:
    """The windows of one capture's ``samples`` (rows × channels) inside ``segments``:
    an array (windows, size, channels) and each window's value."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    parts = []
    values: list[str] = []
    for seg in segments:
        inside = samples[seg.start : seg.end + 1]
        if len(inside) < size:
            continue
        # (count, channels, size) views, no copy until the concatenation.
        view = sliding_window_view(inside, size, axis=0)[::step]
        parts.append(view.transpose(0, 2, 1))
        values.extend([seg.value] * len(view))
    channels = samples.shape[1]
    if not parts:
        return np.empty((0, size, channels), dtype=samples.dtype), values
    return np.concatenate(parts), values


def version_windows(
    version: Version, label: str, size: int, step: int, *, workers: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np

    from capturehub.datamanager._export_files import fetch_in_order

    check_window(size, step)
    chosen: list[tuple[VersionCapture, list[VersionSegment]]] = []
    for capture in version.captures():
        segments = [seg for seg in capture.segments if seg.label == label]
        if segments and capture.task_state == "SUCCESS":
            chosen.append((capture, segments))
    if not chosen:
        raise CapturehubError(
            f"version {version.name!r} has no processed capture with a segment of label "
            f"{label!r}; its labels: {', '.join(sorted(version.labels)) or 'none'}"
        )
    longest = max(seg.end - seg.start + 1 for _, segments in chosen for seg in segments)
    if size > longest:
        raise ValueError(
            f"window size {size} is longer than every {label!r} segment of version "
            f"{version.name!r} (the longest has {longest} samples)"
        )
    channels: list[str] | None = None
    parts: list[np.ndarray] = []
    values: list[str] = []
    groups: list[str] = []

    def fetch(item: tuple[VersionCapture, list[VersionSegment]]) -> pd.DataFrame:
        return item[0].get_data()

    for (capture, segments), frame in fetch_in_order(chosen, fetch, workers):
        if channels is None:
            channels = [str(column) for column in frame.columns]
        elif [str(column) for column in frame.columns] != channels:
            raise CapturehubError(
                f"capture {capture.name!r} has the channels {list(frame.columns)}, not "
                f"{channels} as the first capture: windows need the same channels throughout"
            )
        windows, labels = cut_windows(frame.to_numpy(dtype=np.float64), segments, size, step)
        if labels:
            parts.append(windows)
            values.extend(labels)
            groups.extend([capture.name] * len(labels))
    width = len(channels or [])
    X = np.concatenate(parts) if parts else np.empty((0, size, width), dtype=np.float64)
    return X, np.array(values, dtype=object), np.array(groups, dtype=object)
