"""``Project.export()``: a project as a folder an ML user loads in one line.

Layout (``format="parquet"``; ``"csv"`` is the same with ``.csv`` files)::

    OUT/README.md          what is here and the one-line load commands
    OUT/samples.parquet    every sample of every capture: capture, sample, <channels…>
    OUT/metadata.parquet   one row per capture: capture, uuid, number_samples,
                           sample_rate, <metadata keys…>
    OUT/segments.parquet   one row per segment: capture, label, value, start, end
                           (sample indices, both included)

``format="npz"`` writes ``OUT/samples/<file>.npz`` per capture (one array per channel)
instead of the samples table, and ``metadata.csv`` (with a ``file`` column: the index of the
.npz files) and ``segments.csv``.

Samples come from the server's columnar copy (``Capture.get_data()``: Arrow on the wire), one
capture at a time, so memory holds a few captures, not the project. Only processed captures
(SUCCESS) have samples; the others are left out and named in the report. ``capturehub export``
is this call with a progress display.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from capturehub.datamanager._export_edge_impulse import export_edge_impulse
from capturehub.datamanager._export_files import (
    BASE,
    SAMPLE_WRITERS,
    SEGMENT_COLUMNS,
    channel_types,
    fetch_in_order,
    metadata_rows,
    segment_rows,
    write_table,
)
from capturehub.datamanager._export_readme import export_readme
from capturehub.datamanager.dataset import manifest_entries

if TYPE_CHECKING:
    from capturehub.datamanager.capture import Capture
    from capturehub.datamanager.project import Project

ExportFormat = Literal["parquet", "csv", "npz", "edge-impulse"]
FORMATS: tuple[ExportFormat, ...] = ("parquet", "csv", "npz", "edge-impulse")


@dataclass
class ExportReport:
    """What an export wrote.

    Attributes:
        out_dir: the folder written; format: ``"parquet"``, ``"csv"``, ``"npz"`` or
            ``"edge-impulse"``.
        files: every file written, README.md last.
        captures, samples, segments: how many were exported.
        left_out: names of the selected captures not exported: not processed yet, or failed.
        left_out_segments: segments with no place in the format (edge-impulse: those of
            labels other than ``Label``).
    """

    out_dir: Path
    format: str
    files: list[Path] = field(default_factory=list)
    captures: int = 0
    samples: int = 0
    segments: int = 0
    left_out: list[str] = field(default_factory=list)
    left_out_segments: int = 0

    @property
    def readme(self) -> Path:
        """The README.md describing the folder."""
        return self.out_dir / "README.md"

    def summary(self) -> str:
        """One line: ``14 captures, 8890 samples, 14 segments as parquet, 0 left out``."""
        return (
            f"{self.captures} captures, {self.samples} samples, {self.segments} segments as "
            f"{self.format}, {len(self.left_out)} left out"
        )

    def __str__(self) -> str:
        return self.summary()


def export_project(
    project: Project,
    out_dir: str | os.PathLike[str],
    *,
    format: str = "parquet",
    where: Mapping[str, Any] | None = None,
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """See :meth:`Project.export`."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    filters = dict(where or {})
    entries, selected = manifest_entries(project.captures, filters)
    return write_export(
        out_dir,
        format=format,
        entries=entries,
        selected=selected,
        workers=workers,
        progress=progress,
        title=project.name,
        server=project._connection.base_url,
        where=filters,
    )


def write_export(
    out_dir: str | os.PathLike[str],
    *,
    format: str,
    entries: list[dict[str, Any]],
    selected: Sequence[Capture],
    workers: int,
    progress: Callable[[int, int], None] | None,
    title: str,
    server: str,
    where: Mapping[str, Any],
) -> ExportReport:
    """Write the export of these captures (``entries``: their manifest entries, as
    :func:`~capturehub.datamanager.dataset.manifest_entries` makes them) into ``out_dir``.
    Shared by the project export and the dataset version export."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    out = Path(out_dir)
    filters = dict(where)
    by_file = {capture.download_name: capture for capture in selected}
    ready = [
        (entry, by_file[entry["file"]])
        for entry in entries
        if by_file[entry["file"]].task_state == "SUCCESS"
    ]
    report = ExportReport(
        out_dir=out,
        format=format,
        left_out=sorted(
            by_file[entry["file"]].name
            for entry in entries
            if by_file[entry["file"]].task_state != "SUCCESS"
        ),
    )
    if format == "edge-impulse":
        # Edge Impulse's layout (datamanager/_export_edge_impulse.py): documents and
        # info.labels, which its uploaders read.
        out.mkdir(parents=True, exist_ok=True)
        report.files, report.segments, report.left_out_segments = export_edge_impulse(
            out,
            ready,
            project=title,
            server=server,
            workers=workers,
            progress=progress,
        )
        report.captures = len(ready)
        report.samples = sum(int(capture.number_samples or 0) for _, capture in ready)
        return report
    channels = channel_types(capture for _, capture in ready)  # may refuse: nothing written yet
    out.mkdir(parents=True, exist_ok=True)
    writer = SAMPLE_WRITERS[format](out, channels)
    if progress is not None:
        progress(0, len(ready))
    try:
        for done, ((entry, capture), frame) in enumerate(
            fetch_in_order(ready, lambda item: item[1].get_data(), workers), start=1
        ):
            writer.write(entry, capture, frame)
            if progress is not None:
                progress(done, len(ready))
    finally:
        writer.close()
    report.files += writer.paths()
    table_ext = "parquet" if format == "parquet" else "csv"
    metadata = metadata_rows(ready, writer.files if format == "npz" else None)
    segments = segment_rows(ready)
    for name, rows, columns in (
        (f"metadata.{table_ext}", metadata, None),
        (f"segments.{table_ext}", segments, SEGMENT_COLUMNS),
    ):
        write_table(out / name, rows, columns=columns)
        report.files.append(out / name)
    report.captures = len(ready)
    report.samples = sum(int(capture.number_samples or 0) for _, capture in ready)
    report.segments = len(segments)
    report.readme.write_text(
        export_readme(
            fmt=format,
            project=title,
            server=server,
            where=filters,
            captures=report.captures,
            samples=report.samples,
            segments=report.segments,
            channels=list(writer.channels),
            metadata_keys=[k for k in (metadata[0] if metadata else {}) if k not in BASE],
            example=ready[0][1].name if ready else None,
            example_file=writer.files.get(ready[0][1].uuid) if ready else None,
        )
    )
    report.files.append(report.readme)
    return report
