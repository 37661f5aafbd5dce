"""``capturehub export``: a project as a folder an ML user loads in one line.

Layout (``--format parquet``; ``csv`` is the same with ``.csv`` files)::

    OUT/README.md          what is here and the one-line load commands
    OUT/samples.parquet    every sample of every capture: capture, sample, <channels…>
    OUT/metadata.parquet   one row per capture: capture, uuid, number_samples,
                           sample_rate, <metadata keys…>
    OUT/segments.parquet   one row per segment: capture, label, value, start, end
                           (sample indices, both included)

``--format npz`` writes ``OUT/samples/<file>.npz`` per capture (one array per channel)
instead of the samples table, and ``metadata.csv`` (with a ``file`` column: the index of the
.npz files) and ``segments.csv``.

Samples come from the server's columnar copy (``Capture.get_data()``: Arrow on the wire), one
capture at a time, so memory holds a few captures, not the project. Only processed captures
(SUCCESS) have samples; the others are left out and counted.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from capturehub.cli.capture_commands import file_name
from capturehub.cli.errors import CliError
from capturehub.cli.filters import where_filters, where_options
from capturehub.cli.output import stderr_console, stdout_console
from capturehub.cli.progress import CountProgress
from capturehub.cli.readme import export_readme
from capturehub.cli.session import find_project, open_client, project_option, server_option
from capturehub.cli.uploading import default_workers
from capturehub.datamanager.capture import Capture
from capturehub.datamanager.dataset import manifest_entries

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

RESERVED_COLUMNS = ("capture", "sample")


@click.command()
@server_option
@project_option
@where_options
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["parquet", "csv", "npz"]),
    default="parquet",
    show_default=True,
    help="File format of the samples and tables.",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write (created when missing; files of an earlier export are replaced).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=default_workers,
    show_default="2 per CPU, at most 8",
    help="Captures fetched at once.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def export(
    server: str | None,
    project: str,
    where: tuple[str, ...],
    state: str | None,
    fmt: str,
    out: Path,
    workers: int,
    quiet: bool,
) -> None:
    """Export samples, metadata and segments as files pandas, pyarrow or numpy load at once.

    \b
    Writes, in OUT:
      samples.parquet   capture, sample, <channels...> (one row per sample of each capture)
      metadata.parquet  capture, uuid, number_samples, sample_rate, <metadata keys...>
      segments.parquet  capture, label, value, start, end (sample indices, both included)
      README.md         the layout and the one-line load commands
    --format csv writes the same tables as .csv; --format npz writes samples/<file>.npz
    (one array per channel) per capture, with metadata.csv (its `file` column lists the
    .npz) and segments.csv. Only processed captures (SUCCESS) are exported.
    Examples:
      capturehub export --project watch --format parquet --out watch-dataset/
      python -c "import pandas as pd; print(pd.read_parquet('watch-dataset/samples.parquet'))"
      capturehub export --project watch --where Subject=S01,S02 --format npz --out s01-s02/
    """
    filters = where_filters(where, state)
    with open_client(server) as client:
        captures = find_project(client, project).captures
        entries, selected = manifest_entries(captures, filters)
        by_file = {file_name(capture): capture for capture in selected}
        ready = [
            (entry, by_file[entry["file"]])
            for entry in entries
            if by_file[entry["file"]].task_state == "SUCCESS"
        ]
        left_out = len(entries) - len(ready)
        out.mkdir(parents=True, exist_ok=True)
        writer = SAMPLE_WRITERS[fmt](out, channel_types(capture for _, capture in ready))
        with CountProgress("Exporting", total=len(ready), quiet=quiet) as progress:
            for done, ((entry, capture), frame) in enumerate(
                fetch_in_order(ready, lambda item: item[1].get_data(), workers), start=1
            ):
                writer.write(entry, capture, frame)
                progress.update(done)
        writer.close()
        table_ext = "parquet" if fmt == "parquet" else "csv"
        metadata = metadata_rows(ready, writer.files if fmt == "npz" else None)
        segments = segment_rows(ready)
        write_table(out / f"metadata.{table_ext}", metadata)
        write_table(out / f"segments.{table_ext}", segments, columns=SEGMENT_COLUMNS)
        (out / "README.md").write_text(
            export_readme(
                fmt=fmt,
                project=project,
                server=client.server,
                where=list(where),
                state=state,
                captures=len(ready),
                samples=sum(int(c.number_samples or 0) for _, c in ready),
                segments=len(segments),
                channels=list(writer.channels),
                metadata_keys=[k for k in (metadata[0] if metadata else {}) if k not in BASE],
                example=ready[0][1].name if ready else None,
                example_file=writer.files.get(ready[0][1].uuid) if ready else None,
            )
        )
    stdout_console().print(
        f"Exported {len(ready)} captures ({len(segments)} segments) to {out} as {fmt}; "
        f"see {out / 'README.md'}."
    )
    if left_out:
        were = "capture was" if left_out == 1 else "captures were"
        stderr_console().print(
            f"{left_out} {were} left out, not processed yet or failed (see `capturehub ls "
            f"--project {project!r}`)."
        )


# -- fetching -------------------------------------------------------------------------------


def fetch_in_order(
    items: Sequence[Any], fetch: Callable[[Any], pd.DataFrame], workers: int
) -> Iterator[tuple[Any, pd.DataFrame]]:
    """``(item, fetch(item))`` in order, with up to ``workers`` fetches running ahead."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        window: deque[tuple[Any, Future[pd.DataFrame]]] = deque()
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
    """Every channel of the captures (first seen first) → ``int`` or ``float``."""
    types: dict[str, str] = {}
    for capture in captures:
        for column, spec in capture.schema.items():
            kind = spec.get("type") if isinstance(spec, dict) else str(spec)
            kind = "int" if kind in ("int", "integer") else "float"
            if column in RESERVED_COLUMNS:
                raise CliError(
                    f"capture {capture.name!r} has a channel named {column!r}, which the export "
                    "uses for its own column",
                    "rename the channel (the CSV header) and upload the capture again",
                )
            types[column] = "float" if types.get(column, kind) != kind else kind
    return types


# -- samples --------------------------------------------------------------------------------


class SampleWriter:
    """Writes the samples of one capture after the other; ``files`` maps uuid → file."""

    def __init__(self, out: Path, channels: dict[str, str]) -> None:
        self.out = out
        self.channels = channels
        self.files: dict[str, str] = {}

    def write(self, entry: dict[str, Any], capture: Capture, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

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

BASE = ("capture", "file", "uuid", "number_samples", "sample_rate")
SEGMENT_COLUMNS = ["capture", "label", "value", "start", "end"]


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
