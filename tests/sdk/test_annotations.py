"""capture.metadata, capture.segments, labels and metadata keys, Captures.query(), and the
import's handling of conflicts and bad entries, against the real server (both databases).

Each test imports a few watch captures into its own fresh project (a second or so).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from capturehub import (
    CapturehubError,
    Captures,
    ConflictError,
    Label,
    Segment,
    ValidationError,
)
from capturehub.datamanager.query import query_parameters

Manifest = list[dict[str, Any]]


def subset(watch_manifest: Manifest, pattern: str) -> Manifest:
    return [entry for entry in watch_manifest if re.search(pattern, entry["file"])]


def import_entries(
    captures: Captures, entries: Manifest, shared_data: Path, tmp_path: Path
) -> dict[str, Any]:
    """Import these watch entries; answer {capture name: Capture}."""
    manifest = tmp_path / f"subset-{len(list(tmp_path.iterdir()))}.json"
    manifest.write_text(json.dumps(entries))
    report = captures.import_dataset(manifest, data_dir=shared_data / "watch")
    assert report.failed == {}, report.failed
    return {capture.name: capture for capture in captures.get_captures()}


@pytest.fixture
def few(
    captures: Captures, watch_manifest: Manifest, shared_data: Path, tmp_path: Path
) -> dict[str, Any]:
    """Subject S01's 14 captures, imported with their metadata and segments."""
    return import_entries(captures, subset(watch_manifest, r"/S01_"), shared_data, tmp_path)


# -- capture.metadata -------------------------------------------------------------------------


def test_metadata_reads_and_writes_through(captures: Captures, few: dict[str, Any]) -> None:
    capture = few["S01_0_ABD_007.csv"]
    metadata = capture.metadata
    assert dict(metadata) == {"Subject": "S01", "Side": "0"}
    assert metadata["Subject"] == "S01" and len(metadata) == 2 and "Side" in metadata
    version = capture.version

    metadata["Subject"] = "S11"  # a non-dropdown key takes a new value
    metadata.update({"Age": 34, "Weight": 71.5, "Hand": "left"})  # new keys, one request
    assert capture.metadata == {
        "Subject": "S11",
        "Side": "0",
        "Age": 34,
        "Weight": 71.5,
        "Hand": "left",
    }
    keys = {key.name: key for key in captures.get_metadata_keys()}
    assert (keys["Age"].type, keys["Weight"].type, keys["Hand"].type) == (
        "integer",
        "float",
        "string",
    )
    assert not keys["Age"].is_dropdown
    capture.refresh()
    assert capture.version == version + 2  # one per request

    del metadata["Side"]
    with pytest.raises(KeyError):
        del metadata["Side"]
    assert "Side" not in capture.metadata
    assert [c.name for c in captures.query(Age__gte=30, Side__exists=False)] == [capture.name]

    with pytest.raises(ValidationError, match="holds integers"):
        capture.metadata["Age"] = "old"
    with pytest.raises(TypeError):
        # bool is an int to the type checker; the SDK refuses it all the same.
        capture.metadata["Age"] = True
    capture.metadata.clear()
    assert dict(capture.metadata) == {}
    # Other captures kept theirs.
    assert few["S01_0_ER_115.csv"].metadata["Subject"] == "S01"


def test_dropdown_metadata_keys_refuse_other_values(
    captures: Captures, few: dict[str, Any]
) -> None:
    key = captures.create_metadata("Site", ["Lab", "Home"], dropdown=True)
    assert isinstance(key, Label)
    assert key.values == ("Lab", "Home") and key.is_dropdown and key.is_metadata
    capture = few["S01_0_ABD_007.csv"]
    capture.metadata["Site"] = "Lab"
    with pytest.raises(ValidationError, match="dropdown"):
        capture.metadata["Site"] = "Park"
    with pytest.raises(ConflictError):
        captures.create_metadata("Site")
    more = captures.create_metadata("Site", ["Park", "Lab"], exist_ok=True)
    assert more.values == ("Lab", "Home", "Park")
    capture.metadata["Site"] = "Park"
    assert capture.metadata["Site"] == "Park"
    with pytest.raises(ConflictError, match="unique across labels and metadata keys"):
        captures.create_label("Site")


# -- capture.segments -------------------------------------------------------------------------


def test_segments_add_list_remove(captures: Captures, few: dict[str, Any]) -> None:
    capture = few["S01_0_ER_115.csv"]
    capture.refresh()
    segments = capture.segments
    assert len(segments) == 1
    (whole,) = segments
    assert (whole.label, whole.value, whole.start) == ("Exercise", "ER", 0)
    assert whole.end == capture.max_sequence and whole.length == capture.number_samples

    captures.create_label("Repetition", type="integer", dropdown=False)
    first = segments.add("Repetition", 1, 0, 99)
    assert isinstance(first, Segment) and first.value == 1 and first.uuid
    added = segments.add_many(
        [("Repetition", 2, 100, 199), {"label": "Repetition", "value": 3, "start": 200, "end": 299}]
    )
    assert [s.value for s in added] == [2, 3]
    assert len(segments) == 4 and len(capture.segments) == 4
    frame = capture.segments.to_dataframe()
    assert list(frame.columns) == ["label", "value", "start", "end", "uuid", "segmenter"]
    assert sorted(frame["value"].tolist(), key=str) == [1, 2, 3, "ER"]

    segments.remove(first)
    segments.remove(*added)
    assert [s.uuid for s in capture.segments] == [whole.uuid]
    frame, _ = captures.get_statistics()
    row = frame.set_index("capture_name").loc[capture.name]
    assert row["Exercise: ER"] == 1 and row["total_event_count"] == 1


def test_bad_segments_raise_the_servers_reason(captures: Captures, few: dict[str, Any]) -> None:
    capture = few["S01_0_FEL_028.csv"]
    capture.refresh()
    last = capture.max_sequence
    assert last is not None
    segments = capture.segments
    with pytest.raises(ValidationError, match=r"must be less than") as error:
        segments.add("Exercise", "FEL", 10, 10)
    assert error.value.status_code == 400
    with pytest.raises(ValidationError, match=rf"max_sequence {last}"):
        segments.add("Exercise", "FEL", 0, last + 1)
    with pytest.raises(ValidationError, match="neither the uuid nor one of the values"):
        segments.add("Exercise", "JUMP", 0, 10)  # not one of the dropdown's values
    quality = captures.create_label("Quality", ["good", "bad"])
    with pytest.raises(ValidationError, match="belongs to label 'Quality'") as foreign:
        segments.add("Exercise", quality.value_uuids["good"], 0, 10)
    assert foreign.value.data
    with pytest.raises(ValidationError, match="no label 'Nope'"):
        segments.add("Nope", "x", 0, 10)
    with pytest.raises(ValidationError):  # all or none
        segments.add_many([("Exercise", "FEL", 0, 5), ("Exercise", "FEL", 7, 6)])
    assert len(capture.segments) == 1


# -- Captures.query() -------------------------------------------------------------------------


def test_query_integer_ranges_and_and(
    captures: Captures, watch_manifest: Manifest, shared_data: Path, tmp_path: Path
) -> None:
    entries = subset(watch_manifest, r"/S0[12]_")
    imported = import_entries(captures, entries, shared_data, tmp_path)
    trial = captures.create_metadata("Trial", type="integer")
    assert trial.type == "integer"
    # The file name's number, as a Trial, on the S01 side-0 captures.
    trials = {}
    for name, capture in imported.items():
        subject, side, _, number = Path(name).stem.split("_")
        if subject == "S01" and side == "0":
            capture.metadata["Trial"] = int(number)
            trials[name] = int(number)
    assert len(trials) == 7

    def names(**filters: Any) -> set[str]:
        return {capture.name for capture in captures.query(**filters)}

    assert names(Trial__gte=28, Trial__lt=100) == {n for n, t in trials.items() if 28 <= t < 100}
    assert names(Trial__gt=28, Trial__lte=88) == {n for n, t in trials.items() if 28 < t <= 88}
    assert names(Trial=7) == {n for n, t in trials.items() if t == 7}
    assert names(Trial__in=[7, 10, 115]) == {n for n, t in trials.items() if t in (7, 10, 115)}
    assert names(Trial__exists=True) == set(trials)
    assert len(names(Trial__exists=False)) == len(entries) - 7
    expected_and = {
        Path(e["file"]).name
        for e in entries
        if e["metadata"]["Subject"] == "S02" and e["metadata"]["Side"] == "1"
    }
    assert names(Subject="S02", Side="1") == expected_and and len(expected_and) == 7
    assert names(Subject="S01", Trial__gte=50) == {n for n, t in trials.items() if t >= 50}
    assert names(name__contains="_ABD_", Subject__in=["S01", "S02"]) == {
        n for n in imported if "_ABD_" in n
    }

    with pytest.raises(ValidationError, match="Unknown metadata key 'Nope'"):
        captures.query(Nope="x")
    with pytest.raises(ValidationError, match="range filters need an integer or float key"):
        captures.query(Subject__gte="S01")
    with pytest.raises(ValidationError):
        captures.query(Trial="many")


def test_query_pages_through_big_results(
    captures: Captures, few: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from capturehub.datamanager import _wire

    monkeypatch.setattr(_wire, "PAGE_SIZE", 5)
    found = captures.query(Subject="S01")
    assert sorted(c.name for c in found) == sorted(few)


def test_query_parameters() -> None:
    assert query_parameters(
        {
            "Subject__in": ["S01", "S02"],
            "Age__gte": 30,
            "Weight__lt": 70.5,
            "Side__exists": False,
            "name": "walk",
            "task_state": ["SENT", "STARTED"],
            "metadata.name": "x",
            "Body part": "left/right",
        }
    ) == {
        "metadata.Subject__in": "S01,S02",
        "metadata.Age__gte": "30",
        "metadata.Weight__lt": "70.5",
        "metadata.Side__exists": "false",
        "name": "walk",
        "task_state": "SENT,STARTED",
        "metadata.name": "x",
        "metadata.Body part": "left/right",
    }
    with pytest.raises(ValueError, match="comma"):
        query_parameters({"Subject__in": ["a,b"]})
    with pytest.raises(ValueError, match="pages"):
        query_parameters({"limit": 5})
    with pytest.raises(TypeError):
        query_parameters({"Subject": None})


# -- import: conflicts, bad entries, the labels it creates -------------------------------------


def test_import_reports_conflicts_and_bad_entries(
    captures: Captures, watch_manifest: Manifest, shared_data: Path, tmp_path: Path
) -> None:
    entries = subset(watch_manifest, r"/S02_0_")
    assert len(entries) == 7
    # A capture of the same name but other content is on the server already.
    taken = Path(entries[0]["file"]).name
    other = shared_data / "watch" / entries[1]["file"]
    squatter = captures.create_capture(taken, other, asynchronous=False)
    bad = [dict(entry) for entry in entries]
    bad[2] = {**bad[2], "segments": [{**bad[2]["segments"][0], "end": 10**7}]}
    bad[3] = {**bad[3], "file": "captures/missing.csv"}
    bad.append({"file": "captures/S02_0_ABD_001.csv", "segments": [{"label": "Exercise"}]})
    manifest = tmp_path / "bad.json"
    manifest.write_text(json.dumps(bad))
    events: list[Any] = []

    report = captures.import_dataset(
        manifest, data_dir=shared_data / "watch", asynchronous=False, progress=events.append
    )
    assert not report.ok
    assert report.conflicts == [taken]
    assert "other content" in report.failed[taken] and "not overwritten" in report.failed[taken]
    name2 = Path(bad[2]["file"]).name
    assert "segments not added" in report.failed[name2]
    assert "max_sequence" in report.failed[name2]
    assert "file not found" in report.failed["missing.csv"]
    assert "'value' must be a string or a number" in report.failed["S02_0_ABD_001.csv"]
    assert len(report.failed) == 4
    assert sorted(report.uploaded) == sorted(
        Path(e["file"]).name for i, e in enumerate(entries) if i not in (0, 3)
    )
    assert report.segments_added == 4  # not the conflict's, the missing one's, nor the bad one
    assert any(e.stage == "upload" and e.status == "conflict" for e in events)

    sha256 = squatter.capture_info["sha256"]
    squatter.refresh()  # untouched: same data, no metadata, no segments
    assert squatter.capture_info["sha256"] == sha256
    assert dict(squatter.metadata) == {} and len(squatter.segments) == 0
    capture2 = captures.get_capture_by_filename(name2)
    assert capture2 is not None
    assert dict(capture2.metadata) == bad[2]["metadata"] and len(capture2.segments) == 0

    # Fixed, the import completes what was missing and nothing else.
    bad[2] = entries[2]
    manifest.write_text(json.dumps(bad[1:3]))
    fixed = captures.import_dataset(manifest, data_dir=shared_data / "watch")
    assert fixed.ok and fixed.uploaded == [] and fixed.segments_added == 1
    assert fixed.metadata_set == 0


def test_import_sets_sample_rates_and_types(
    captures: Captures, watch_manifest: Manifest, shared_data: Path, tmp_path: Path
) -> None:
    entries = [
        {
            **entry,
            "sample_rate_hz": 25,
            "metadata": {**entry["metadata"], "Trial": index, "Weight": 70.5 + index},
        }
        for index, entry in enumerate(subset(watch_manifest, r"/S03_1_"))
    ]
    import_entries(captures, entries, shared_data, tmp_path)
    keys = {key.name: key.type for key in captures.get_metadata_keys()}
    assert keys == {"Subject": "string", "Side": "string", "Trial": "integer", "Weight": "float"}
    exported = json.loads(captures.export_manifest(tmp_path / "out.json").read_text())
    by_file = {entry["file"]: entry for entry in exported}
    for entry in entries:
        out = by_file[Path(entry["file"]).name]
        assert out["sample_rate_hz"] == 25
        assert out["metadata"] == entry["metadata"]  # numbers come back as numbers
    # A new rate in the manifest is applied to the existing captures (and only that).
    changed = [{**entry, "sample_rate_hz": 50} for entry in entries]
    manifest = tmp_path / "rate.json"
    manifest.write_text(json.dumps(changed))
    report = captures.import_dataset(manifest, data_dir=shared_data / "watch")
    assert sorted(report.updated) == sorted(Path(e["file"]).name for e in entries)
    assert report.metadata_set == 0 and report.segments_added == 0
    assert {c.set_sample_rate for c in captures.get_captures()} == {50}


def test_import_refuses_a_label_used_as_metadata(
    captures: Captures, watch_manifest: Manifest, shared_data: Path, tmp_path: Path
) -> None:
    captures.create_metadata("Exercise")
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(subset(watch_manifest, r"/S04_0_ABD")))
    with pytest.raises(CapturehubError, match="'Exercise' is a metadata key in this project"):
        captures.import_dataset(manifest, data_dir=shared_data / "watch")
    assert captures.get_captures() == []
    with pytest.raises(ValueError, match="cannot tell the manifest's format"):
        manifest.write_text(json.dumps([{"path": "x.csv"}]))
        captures.import_dataset(manifest)
