"""``Project.export(format="edge-impulse")``: Edge Impulse's dataset layout, which its uploader
(``edge-impulse-uploader --info-file``, the Python SDK's ``upload_directory``) reads.

    OUT/info.labels                  every file: path, category, label, metadata
    OUT/training/<capture>.json      one data acquisition document per capture
    OUT/testing/<capture>.json
    OUT/anomaly/<capture>.json

The mapping is the one the Edge Impulse routes apply on the way in (docs/edge-impulse.md), the
other way round, so a dataset goes to Edge Impulse's cloud and back without loss: the metadata
``category`` picks the folder (training when absent), the segments of the label ``Label`` are
the sample's label (one spanning the whole capture) or its structured labels (ranges), the
metadata ``device_type``/``device_name`` go into the document, other metadata into
``info.labels``. Segments of other labels have no place in Edge Impulse's format and are left
out (the report's ``left_out_segments`` counts them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capturehub.datamanager._export_files import fetch_in_order

if TYPE_CHECKING:
    import pandas as pd

    from capturehub.datamanager.capture import Capture

LABEL = "Label"
CATEGORIES = ("training", "testing", "anomaly")
# Metadata that is a field of Edge Impulse's own, not free metadata.
OWN_KEYS = ("category", "signature", "device_type", "device_name", "label")
TIME_COLUMNS = ("sequence", "timestamp")
README = """# Edge Impulse dataset of project {project}

Exported by capturehub from {server}: {captures} captures as Edge Impulse data acquisition
documents (JSON) in training/, testing/ and anomaly/, with info.labels (categories, labels,
metadata).

Upload to an Edge Impulse project (or back to a capturehub server's Edge Impulse routes):

    edge-impulse-uploader --info-file info.labels
    python -c "import edgeimpulse as ei; ei.data.upload_directory('.')"
"""


def sensors_of(capture: Capture) -> list[tuple[str, str]]:
    """The capture's channels with their units (``N/A`` where none is known)."""
    return [
        (name, str(spec.get("units", "N/A")) if isinstance(spec, dict) else "N/A")
        for name, spec in capture.schema.items()
        if name not in TIME_COLUMNS
    ]


def file_stem(capture: Capture) -> str:
    """The capture's name as a file name: Edge Impulse's uploader names a sample after its file
    without the extension, so it comes back under the same name (``/`` and ``\\`` become
    ``_``)."""
    name = capture.name or capture.uuid
    for separator in ("/", "\\", "\0"):
        name = name.replace(separator, "_")
    return capture.uuid if name in ("", ".", "..") else name


def label_entry(entry: dict[str, Any], count: int, label_name: str) -> dict[str, Any]:
    """info.labels' ``label``: one label, structured labels (ranges), or none."""
    ranges = [s for s in entry.get("segments") or [] if s["label"] == label_name]
    if len(ranges) == 1 and ranges[0]["start"] == 0 and ranges[0]["end"] >= count - 1:
        return {"type": "label", "label": str(ranges[0]["value"])}
    if ranges:
        ordered = sorted(ranges, key=lambda s: (s["start"], s["end"]))
        return {
            "type": "multi-label",
            "labels": [
                {"startIndex": s["start"], "endIndex": s["end"], "label": str(s["value"])}
                for s in ordered
            ],
        }
    single = (entry.get("metadata") or {}).get("label")
    if single is not None:
        return {"type": "label", "label": str(single)}
    return {"type": "unlabeled"}


def document(capture: Capture, entry: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    metadata = entry.get("metadata") or {}
    sensors = sensors_of(capture)
    rate = capture.set_sample_rate or capture.calculated_sample_rate
    columns = [frame[name].astype("float64").tolist() for name, _ in sensors]
    return {
        "protected": {"ver": "v1", "alg": "none", "iat": None},
        "signature": None,
        "payload": {
            "device_name": metadata.get("device_name"),
            "device_type": str(metadata.get("device_type", "capturehub")),
            # Edge Impulse needs an interval: 1 ms stands for an unknown rate.
            "interval_ms": 1000.0 / rate if rate else 1.0,
            "sensors": [{"name": name, "units": units} for name, units in sensors],
            "values": [list(row) for row in zip(*columns, strict=True)],
        },
    }


def export_edge_impulse(
    out: Path,
    ready: list[tuple[dict[str, Any], Capture]],
    *,
    project: str,
    server: str,
    workers: int,
    progress: Callable[[int, int], None] | None,
    label_name: str = LABEL,
) -> tuple[list[Path], int, int]:
    """Write the dataset; returns the files written, the segments kept and those left out."""
    files: list[Path] = []
    listed: list[dict[str, Any]] = []
    kept = left_out = 0
    if progress is not None:
        progress(0, len(ready))
    for done, ((entry, capture), frame) in enumerate(
        fetch_in_order(ready, lambda item: item[1].get_data(), workers), start=1
    ):
        metadata = entry.get("metadata") or {}
        category = str(metadata.get("category", "training"))
        if category not in CATEGORIES:
            category = "training"
        relative = f"{category}/{file_stem(capture)}.json"
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document(capture, entry, frame)), encoding="utf-8")
        files.append(path)
        segments = entry.get("segments") or []
        ours = sum(1 for s in segments if s["label"] == label_name)
        kept += ours
        left_out += len(segments) - ours
        listed.append(
            {
                "path": relative,
                "name": capture.name,
                "category": category,
                "label": label_entry(entry, int(capture.number_samples or 0), label_name),
                "metadata": {
                    key: str(value) for key, value in metadata.items() if key not in OWN_KEYS
                },
                "boundingBoxes": [],
            }
        )
        if progress is not None:
            progress(done, len(ready))
    info = out / "info.labels"
    info.write_text(json.dumps({"version": 1, "files": listed}, indent=1), encoding="utf-8")
    readme = out / "README.md"
    readme.write_text(README.format(project=project, server=server, captures=len(ready)))
    return [*files, info, readme], kept, left_out
