"""Importing the real watch dataset through the SDK, and exporting it back, on both databases.

The full import (140 captures) runs once per backend (module-scoped fixture); the tests after
it only read that project, or import into fresh projects of their own.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from capturehub import Captures, Client, ImportEvent, ImportReport
from tests.conftest import RunningServer

Manifest = list[dict[str, Any]]


def base_name(entry: dict[str, Any]) -> str:
    return Path(entry["file"]).name


def as_exported(manifest: Manifest) -> Manifest:
    """The manifest as export_manifest writes it: file names relative to the capture folder,
    sorted by file."""
    entries = [{**entry, "file": base_name(entry)} for entry in manifest]
    return sorted(entries, key=lambda entry: entry["file"])


def to_dcli(manifest: Manifest) -> Manifest:
    """The same dataset in SensiML's DCLI JSON (file names relative to the capture folder)."""
    return [
        {
            "file_name": base_name(entry),
            "metadata": [{"name": k, "value": v} for k, v in entry["metadata"].items()],
            "sessions": [
                {
                    "session_name": "watch labels",
                    "segments": [
                        {
                            "name": s["label"],
                            "value": s["value"],
                            "start": s["start"],
                            "end": s["end"],
                        }
                        for s in entry["segments"]
                    ],
                }
            ],
        }
        for entry in manifest
    ]


def new_client(server: RunningServer, prefix: str) -> Client:
    client = Client(server=server.url, username=server.username, password=server.password)
    client.project = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return client


@dataclass
class Imported:
    client: Client
    captures: Captures
    report: ImportReport
    events: list[ImportEvent]
    manifest: Manifest


@pytest.fixture(scope="module")
def imported(server: RunningServer, shared_data: Path) -> Iterator[Imported]:
    """The whole watch dataset imported into a fresh project, once per backend."""
    path = shared_data / "watch" / "manifest.json"
    manifest: Manifest = json.loads(path.read_text())
    client = new_client(server, "watch")
    events: list[ImportEvent] = []
    try:
        report = client.project.captures.import_dataset(path, progress=events.append)
        yield Imported(client, client.project.captures, report, events, manifest)
    finally:
        client.close()


def test_the_import_reports_what_it_did(imported: Imported) -> None:
    report = imported.report
    names = [base_name(entry) for entry in imported.manifest]
    assert report.failed == {}
    assert report.ok
    assert sorted(report.uploaded) == sorted(names)
    assert report.skipped == [] and report.conflicts == []
    assert report.format == "manifest"
    assert report.metadata_set == sum(len(e["metadata"]) for e in imported.manifest)
    assert report.segments_added == sum(len(e["segments"]) for e in imported.manifest)
    assert report.metadata_keys_created == ["Subject", "Side"]
    assert report.labels_created == ["Exercise"]
    assert "140 uploaded" in str(report)
    stages = Counter(event.stage for event in imported.events)
    assert stages["upload"] == 140 and stages["done"] == 1
    uploads = [event for event in imported.events if event.stage == "upload"]
    assert [event.done for event in uploads] == list(range(1, 141))
    assert {event.status for event in uploads} == {"uploaded"}
    assert imported.events[-1].stage == "done"


def test_captures_by_metadata_are_the_manifests(imported: Imported) -> None:
    expected = {base_name(e) for e in imported.manifest if e["metadata"]["Subject"] == "S01"}
    found = imported.captures.get_captures_by_metadata("Subject", "S01")
    assert len(found) == len(expected) == 14
    assert {capture.name for capture in found} == expected


def test_names_and_values_are_the_manifests(imported: Imported) -> None:
    captures = imported.captures
    keys: dict[str, set[str]] = {}
    for entry in imported.manifest:
        for key, value in entry["metadata"].items():
            keys.setdefault(key, set()).add(value)
    listed = captures.get_metadata_names_and_values()
    assert [item["name"] for item in listed] == list(keys)
    for item in listed:
        assert item["type"] == "string"
        assert item["values"] == sorted(keys[item["name"]])  # created in sorted order
    labels = {s["value"] for e in imported.manifest for s in e["segments"]}
    assert captures.get_label_names_and_values() == {"Exercise": sorted(labels)}
    (exercise,) = captures.get_labels()
    assert exercise.is_dropdown and not exercise.is_metadata and exercise.type == "string"
    assert all(not key.is_dropdown and key.is_metadata for key in captures.get_metadata_keys())


def test_statistics_count_the_manifests_segments(imported: Imported) -> None:
    frame, complete = imported.captures.get_statistics()
    assert complete
    assert len(frame) == 140
    by_name = frame.set_index("capture_name")
    expected_total: Counter[str] = Counter()
    values = sorted({s["value"] for e in imported.manifest for s in e["segments"]})
    for entry in imported.manifest:
        counts = Counter(s["value"] for s in entry["segments"])
        expected_total.update(counts)
        row = by_name.loc[base_name(entry)]
        for value in values:
            assert row[f"Exercise: {value}"] == counts[value], (base_name(entry), value)
        assert row["Subject"] == entry["metadata"]["Subject"]
        assert row["Side"] == entry["metadata"]["Side"]
    for value in values:
        assert int(frame[f"Exercise: {value}"].sum()) == expected_total[value]


def test_a_capture_reads_its_metadata_and_segments(imported: Imported) -> None:
    entry = imported.manifest[0]
    capture = imported.captures.get_capture_by_filename(base_name(entry))
    assert capture is not None
    assert dict(capture.metadata) == entry["metadata"]
    segments = capture.segments
    assert [(s.label, s.value, s.start, s.end) for s in segments] == [
        (s["label"], s["value"], s["start"], s["end"]) for s in entry["segments"]
    ]
    frame = segments.to_dataframe()
    assert list(frame.columns) == ["label", "value", "start", "end", "uuid", "segmenter"]
    assert frame["end"].tolist() == [s["end"] for s in entry["segments"]]


def test_query_on_imported_metadata(imported: Imported) -> None:
    manifest, captures = imported.manifest, imported.captures

    def names(predicate: Any) -> set[str]:
        return {base_name(e) for e in manifest if predicate(e["metadata"])}

    both = captures.query(Subject="S03", Side="0")
    assert {c.name for c in both} == names(lambda m: m["Subject"] == "S03" and m["Side"] == "0")
    either = captures.query(Subject__in=["S01", "S02"])
    assert {c.name for c in either} == names(lambda m: m["Subject"] in ("S01", "S02"))
    assert len(captures.query(Side__exists=True, task_state="SUCCESS")) == 140
    assert captures.query(Side__exists=False) == []
    one = base_name(manifest[5])
    assert [c.name for c in captures.query(name=one)] == [one]


def test_reimport_changes_nothing(imported: Imported, shared_data: Path) -> None:
    captures = imported.captures
    before = {c.name: (c.version, c.last_modified) for c in captures.get_captures()}
    stats_before, _ = captures.get_statistics()
    report = captures.import_dataset(shared_data / "watch" / "manifest.json")
    assert report.failed == {}
    assert report.uploaded == []
    assert sorted(report.skipped) == sorted(before)
    assert report.metadata_set == 0 and report.segments_added == 0 and report.updated == []
    assert report.labels_created == [] and report.metadata_keys_created == []
    after = {c.name: (c.version, c.last_modified) for c in captures.get_captures()}
    assert after == before
    stats_after, _ = captures.get_statistics()
    counts = [c for c in stats_before.columns if c.startswith("Exercise: ")]
    assert stats_after[counts].equals(stats_before[counts])
    assert captures.get_label_names_and_values() == {
        "Exercise": sorted({s["value"] for e in imported.manifest for s in e["segments"]})
    }


def test_export_import_export_round_trips(
    imported: Imported, server: RunningServer, shared_data: Path, tmp_path: Path
) -> None:
    first = imported.captures.export_manifest(tmp_path / "first" / "manifest.json")
    exported = json.loads(first.read_text())
    assert exported == as_exported(imported.manifest)
    with new_client(server, "round-trip") as client:
        report = client.project.captures.import_dataset(
            first, data_dir=shared_data / "watch" / "captures", workers=4
        )
        assert report.failed == {} and len(report.uploaded) == 140
        second = client.project.captures.export_manifest(tmp_path / "second.json")
        assert second.read_text() == first.read_text()

        # The same dataset in DCLI form: already all there, so nothing changes.
        dcli = tmp_path / "dcli.json"
        dcli.write_text(json.dumps(to_dcli(imported.manifest)))
        again = client.project.captures.import_dataset(
            dcli, data_dir=shared_data / "watch" / "captures"
        )
        assert again.format == "dcli"
        assert again.failed == {} and again.uploaded == [] and len(again.skipped) == 140
        assert again.metadata_set == 0 and again.segments_added == 0


def test_dcli_imports_equivalently(
    imported: Imported, server: RunningServer, shared_data: Path, tmp_path: Path
) -> None:
    dcli = tmp_path / "dcli.json"
    dcli.write_text(json.dumps(to_dcli(imported.manifest)))
    with new_client(server, "dcli") as client:
        captures = client.project.captures
        report = captures.import_dataset(dcli, data_dir=shared_data / "watch" / "captures")
        assert report.format == "dcli"
        assert report.failed == {} and len(report.uploaded) == 140
        assert report.segments_added == 140 and report.metadata_set == 280
        exported = json.loads(captures.export_manifest(tmp_path / "dcli-export.json").read_text())
        # DCLI has no sample rate: everything else is the manifest's.
        expected = [
            {k: v for k, v in entry.items() if k != "sample_rate_hz"}
            for entry in as_exported(imported.manifest)
        ]
        assert exported == expected
        # The session became a segmenter of that name.
        segmenters = client.connection.get_json(f"project/{client.project.uuid}/segmenter/")
        assert [s["name"] for s in segmenters] == ["watch labels"]
        capture = captures.get_capture_by_filename(expected[0]["file"])
        assert capture is not None
        assert {s.segmenter for s in capture.segments} == {segmenters[0]["id"]}


def test_export_with_filters_and_files(
    imported: Imported, shared_data: Path, tmp_path: Path
) -> None:
    path = imported.captures.export_manifest(
        tmp_path / "s01" / "manifest.json", filters={"Subject": "S01"}, download=True
    )
    entries = json.loads(path.read_text())
    expected = [e for e in as_exported(imported.manifest) if e["metadata"]["Subject"] == "S01"]
    assert entries == expected
    watch = {base_name(e): e["file"] for e in imported.manifest}
    for entry in entries:  # the exported folder is self-contained: the files are the originals
        downloaded = (path.parent / entry["file"]).read_bytes()
        assert downloaded == (shared_data / "watch" / watch[entry["file"]]).read_bytes()
    assert sorted(p.name for p in path.parent.glob("*.csv")) == [e["file"] for e in entries]
