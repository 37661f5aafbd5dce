"""Build the pandas DataFrames the SDK answers from wire objects.

pandas is imported here, and this module only when a DataFrame is asked for, so that
``import capturehub`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

PROJECT_COLUMNS = ["name", "uuid", "created_at", "last_modified", "description"]
CAPTURE_COLUMNS = [
    "name",
    "uuid",
    "created_at",
    "last_modified",
    "number_samples",
    "set_sample_rate",
    "calculated_sample_rate",
    "task_state",
    "format",
    "file_size",
]
STATISTICS_LEADING = ["capture_name", "capture_uuid", "total_event_count"]
# Flat scalars the statistics route may add (§7); they go after labels and metadata.
STATISTICS_TRAILING = ["number_samples", "set_sample_rate", "duration_s", "file_size", "task_state"]
_TIME_COLUMNS = ("created_at", "last_modified")


def _frame(rows: Iterable[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{column: row.get(column) for column in columns} for row in rows], columns=columns
    )
    for column in _TIME_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def projects_frame(projects: Iterable[dict[str, Any]]) -> pd.DataFrame:
    return _frame(projects, PROJECT_COLUMNS)


def captures_frame(captures: Iterable[dict[str, Any]]) -> pd.DataFrame:
    # A live recording's task_state is RECORDING (the wire says SENT with recording: true).
    return _frame(
        (
            {**capture, "task_state": "RECORDING"} if capture.get("recording") else capture
            for capture in captures
        ),
        CAPTURE_COLUMNS,
    )


def statistics_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The §7 statistics objects flattened: ``"<label>: <value>"`` counts, metadata columns.

    Column order: capture_name, capture_uuid, total_event_count, the label-value counts, the
    metadata keys, then the other scalars the server sent (number_samples, set_sample_rate…).
    A label value absent from a row counts 0; a metadata key absent from a row is None.
    """
    label_columns: dict[str, None] = {}
    metadata_columns: dict[str, None] = {}
    extra_columns: dict[str, None] = {}
    flat_rows = []
    for row in rows:
        flat: dict[str, Any] = {key: row.get(key) for key in STATISTICS_LEADING}
        for label, values in (row.get("event_labels") or {}).items():
            for entry in values or []:
                column = f"{label}: {entry.get('value')}"
                label_columns[column] = None
                flat[column] = entry.get("count", 0)
        for key, value in (row.get("metadata") or {}).items():
            metadata_columns[key] = None
            flat[key] = value
        for key, value in row.items():
            if key in flat or key in ("event_labels", "metadata"):
                continue
            if value is None or isinstance(value, str | int | float | bool):
                extra_columns[key] = None
                flat[key] = value
        flat_rows.append(flat)
    extras = [c for c in STATISTICS_TRAILING if c in extra_columns]
    extras += [c for c in extra_columns if c not in STATISTICS_TRAILING]
    columns = [*STATISTICS_LEADING, *label_columns, *metadata_columns]
    columns += [c for c in extras if c not in columns]
    frame = pd.DataFrame(flat_rows, columns=columns)
    for column in label_columns:
        frame[column] = frame[column].fillna(0).astype("int64")
    return frame
