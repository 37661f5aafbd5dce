"""``Version.export()``: the project export's folder for a version's captures, with
``version.json`` (name, content hash, and the listing the hash is computed from)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capturehub.datamanager.export import ExportReport, write_export
from capturehub.exceptions import CapturehubError

if TYPE_CHECKING:
    from capturehub.datamanager.versions import Version, VersionCapture


def manifest_entry(capture: VersionCapture) -> dict[str, Any]:
    """The manifest entry of a version's capture (as ``Captures.export_manifest`` writes)."""
    entry: dict[str, Any] = {"file": capture.download_name}
    rate = capture.set_sample_rate
    if rate is not None:
        entry["sample_rate_hz"] = int(rate) if float(rate).is_integer() else rate
    entry["metadata"] = capture.metadata
    entry["segments"] = [
        {"label": s.label, "value": s.value, "start": s.start, "end": s.end}
        for s in capture.segments
    ]
    return entry


def export_version(
    version: Version,
    out_dir: str | os.PathLike[str],
    *,
    format: str,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> ExportReport:
    listing = version.listing()
    captures = _captures(version, listing)
    entries = []
    files: dict[str, str] = {}
    for capture in captures:
        entry = manifest_entry(capture)
        if entry["file"] in files:
            raise CapturehubError(
                f"captures {files[entry['file']]!r} and {capture.name!r} would both be written "
                f"as {entry['file']!r}"
            )
        files[entry["file"]] = capture.name
        entries.append(entry)
    entries.sort(key=lambda entry: entry["file"])
    report = write_export(
        out_dir,
        format=format,
        entries=entries,
        selected=captures,
        workers=workers,
        progress=progress,
        title=f"{version._project.name} (version {version.name})",
        server=version._connection.base_url,
        where=version.where,
    )
    path = Path(out_dir) / "version.json"
    path.write_text(
        json.dumps(
            {
                "name": version.name,
                "uuid": version.uuid,
                "description": version.description,
                "created_at": version.info.get("created_at"),
                "where": version.where,
                "content_hash": version.content_hash,
                "captures": [
                    {
                        "name": item["name"],
                        "uuid": item["uuid"],
                        "sha256": item["sha256"],
                        "metadata": item.get("metadata") or {},
                        "segments": item.get("segments") or [],
                    }
                    for item in listing
                ],
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    report.files.insert(len(report.files) - 1, path)
    return report


def _captures(version: Version, listing: list[dict[str, Any]]) -> list[VersionCapture]:
    from capturehub.datamanager.versions import VersionCapture

    return [VersionCapture(version._connection, version._project, version, i) for i in listing]
