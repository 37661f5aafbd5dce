"""The files of an export (``Project.export``): the samples writers, one per format, and the
metadata and segments tables. pandas, pyarrow and numpy are imported when a file is written."""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from capturehub.exceptions import CapturehubError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from capturehub.datamanager.capture import Capture

RESERVED_COLUMNS = ("capture", "sample")
BASE = ("capture", "file", "uuid", "number_samples", "sample_rate")
SEGMENT_COLUMNS = ["capture", "label", "value", "start", "end"]

_Item = TypeVar("_Item")


# -- fetching -------------------------------------------------------------------------------


def fetch_in_order(
    items: Sequence[_Item], fetch: Callable[[_Item], pd.DataFrame], workers: int
) -> Iterator[tuple[_Item, pd.DataFrame]]:
    """``(item, fetch(item))`` in order, with up to ``workers`` fetches running ahead, so
    memory holds a few captures' samples, not the project's."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export") as pool:
        window: deque[tuple[_Item, Future[pd.DataFrame]]] = deque()
        upcoming = iter(items)
        for item in upcoming:
            window.append((item, pool.submit(fetch, item)))
            if len(window) >= workers:
                break
        while window:
            item, future = window.popleft()
            following = next(upcoming, None)
            if following is not None:
                window.append((following, pool.submit(fetch, following)))
            yield item, future.result()


def channel_types(captures: Iterable[Capture]) -> dict[str, str]:
    """Every channel of the captures (first seen first) → ``int`` or ``float`` (``float``
    when the captures disagree)."""
    types: dict[str, str] = {}
    for capture in captures:
        for column, spec in capture.schema.items():
            kind = spec.get("type") if isinstance(spec, dict) else str(spec)
            kind = "int" if kind in ("int", "integer") else "float"
            if column in RESERVED_COLUMNS:
                raise CapturehubError(
                    f"capture {capture.name!r} has a channel named {column!r}, which the export "
                    "uses for its own column; rename the channel (the CSV header) and upload "
                    "the capture again"
                )
            types[column] = "float" if types.get(column, kind) != kind else kind
    return types


# -- samples --------------------------------------------------------------------------------


class SampleWriter:
    """Writes the samples of one capture after the other; ``files`` maps uuid → the file
    (relative to the export's folder) holding its samples."""

    def __init__(self, out: Path, channels: dict[str, str]) -> None:
        self.out = out
        self.channels = channels
        self.files: dict[str, str] = {}

    def write(self, entry: dict[str, Any], capture: Capture, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def paths(self) -> list[Path]:
        """The files written, in the order of the captures."""
        return [self.out / name for name in dict.fromkeys(self.files.values())]

    def _table_frame(self, capture: Capture, frame: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        table = frame.reindex(columns=list(self.channels))
        table.insert(0, "sample", pd.RangeIndex(len(frame)))
        table.insert(0, "capture", capture.name)
        return table


class ParquetSamples(SampleWriter):
    def __init__(self, out: Path, channels: dict[str, str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__(out, channels)
        fields = [pa.field("capture", pa.string()), pa.field("sample", pa.int64())]
        fields += [
            pa.field(name, pa.int64() if kind == "int" else pa.float64())
            for name, kind in channels.items()
        ]
        self.schema: pa.Schema = pa.schema(fields)
        self.path = out / "samples.parquet"
        self._writer = pq.ParquetWriter(
            self.path, self.schema, compression="zstd", use_dictionary=["capture"]
        )

    def write(self, entry: dict[str, Any], capture: Capture, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        table = pa.Table.from_pandas(
            self._table_frame(capture, frame), schema=self.schema, preserve_index=False
        )
        self._writer.write_table(table)
        self.files[capture.uuid] = self.path.name

    def close(self) -> None:
        self._writer.close()

    def paths(self) -> list[Path]:
        return [self.path]


class CsvSamples(SampleWriter):
    def __init__(self, out: Path, channels: dict[str, str]) -> None:
        super().__init__(out, channels)
        self.path = out / "samples.csv"
        with open(self.path, "w", newline="", encoding="utf-8") as output:
            csv.writer(output).writerow(["capture", "sample", *channels])

    def write(self, entry: dict[str, Any], capture: Capture, frame: pd.DataFrame) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as output:
            self._table_frame(capture, frame).to_csv(output, header=False, index=False)
        self.files[capture.uuid] = self.path.name

    def paths(self) -> list[Path]:
        return [self.path]


class NpzSamples(SampleWriter):
    def __init__(self, out: Path, channels: dict[str, str]) -> None:
        super().__init__(out, channels)
        (out / "samples").mkdir(exist_ok=True)

    def write(self, entry: dict[str, Any], capture: Capture, frame: pd.DataFrame) -> None:
        import numpy as np

        relative = f"samples/{Path(entry['file']).stem}.npz"
        arrays = {str(column): frame[column].to_numpy() for column in frame.columns}
        np.savez(self.out / relative, **arrays)  # type: ignore[arg-type]
        self.files[capture.uuid] = relative


SAMPLE_WRITERS: dict[str, Callable[[Path, dict[str, str]], SampleWriter]] = {
    "parquet": ParquetSamples,
    "csv": CsvSamples,
    "npz": NpzSamples,
}


# -- tables ---------------------------------------------------------------------------------


def metadata_rows(
    ready: list[tuple[dict[str, Any], Capture]], files: dict[str, str] | None
) -> list[dict[str, Any]]:
    """One row per capture; with ``files`` (npz) a ``file`` column naming its samples."""
    rows = []
    for entry, capture in ready:
        row: dict[str, Any] = {"capture": capture.name}
        if files is not None:
            row["file"] = files.get(capture.uuid)
        row.update(
            uuid=capture.uuid,
            number_samples=capture.number_samples,
            sample_rate=capture.set_sample_rate or capture.calculated_sample_rate,
        )
        for key, value in (entry.get("metadata") or {}).items():
            row.setdefault(key, value)
        rows.append(row)
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return [{key: row.get(key) for key in keys} for row in rows]


def segment_rows(ready: list[tuple[dict[str, Any], Capture]]) -> list[dict[str, Any]]:
    return [
        {
            "capture": capture.name,
            "label": seg["label"],
            "value": seg["value"],
            "start": seg["start"],
            "end": seg["end"],
        }
        for entry, capture in ready
        for seg in entry.get("segments") or []
    ]


def write_table(
    path: Path, rows: list[dict[str, Any]], columns: Sequence[str] | None = None
) -> None:
    """A small table (metadata, segments) as Parquet or CSV, after its suffix."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(columns) if columns else None)
    for column in frame.columns:  # a column mixing text and numbers is written as text
        kinds = {type(value) for value in frame[column] if value is not None}
        if len(kinds) > 1 and str in kinds:
            frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
