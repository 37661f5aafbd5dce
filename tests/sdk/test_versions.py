"""Dataset versions through the SDK, on the real watch data (140 recordings with their
manifest), on SQLite and PostgreSQL: a version reads back exactly as it was made while the
project changes; windows equal an independent numpy computation; a version made during
concurrent uploads, deletes and segment edits is a consistent snapshot; bad input is refused."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from capturehub import Client
from capturehub.datamanager.content_hash import hash_of_listing
from capturehub.datamanager.versions import Version
from capturehub.exceptions import CapturehubError, ConflictError, NotFoundError, ValidationError
from tests.conftest import RunningServer


@pytest.fixture
def watch_project(client: Client, shared_data: Path) -> Client:
    """The selected project holds the watch recordings, processed, with the manifest's
    metadata (Subject, Side) and segments (Exercise)."""
    manifest = shared_data / "watch" / "manifest.json"
    report = client.project.captures.import_dataset(manifest, data_dir=shared_data / "watch")
    assert report.ok, report.summary()
    return client


def _state(version: Version, out: Path) -> dict[str, Any]:
    """Everything a user reads from a version: listing, files, samples, export, windows."""
    captures = version.captures()
    files = {c.name: c.download(out / "files").read_bytes() for c in captures}
    report = version.export(out / "export", format="parquet")
    return {
        "listing": version.listing(),
        "files": files,
        "data": version.get_data(),
        "export": {
            name: pd.read_parquet(out / "export" / name)
            for name in ("samples.parquet", "metadata.parquet", "segments.parquet")
        },
        "version.json": (out / "export" / "version.json").read_text(),
        "report": (report.captures, report.samples, report.segments),
        "windows": version.windows("Exercise", size=128, step=64),
        "hash": version.content_hash,
    }


def _assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after["listing"] == before["listing"]
    assert after["files"] == before["files"]
    assert list(after["data"]) == list(before["data"])
    for name, frame in before["data"].items():
        pd.testing.assert_frame_equal(after["data"][name], frame)
    for name, table in before["export"].items():
        pd.testing.assert_frame_equal(after["export"][name], table)
    assert after["version.json"] == before["version.json"]
    assert after["report"] == before["report"]
    for old, new in zip(before["windows"], after["windows"], strict=True):
        np.testing.assert_array_equal(new, old)
    assert after["hash"] == before["hash"]


def test_a_version_reads_exactly_as_made_while_the_project_changes(
    watch_project: Client, shared_data: Path, tmp_path: Path
) -> None:
    project = watch_project.project
    v1 = project.versions.create("v1", description="trained model v3 on this")
    assert (v1.capture_count, v1.segment_count) == (140, 140)
    assert v1.labels["Exercise"]["PEN"] == 20
    assert v1.verify()
    before = _state(v1, tmp_path / "before")
    for pinned in v1.captures():  # the originals, byte for byte
        original = shared_data / "watch" / "captures" / pinned.name
        assert before["files"][pinned.name] == original.read_bytes()
        assert hashlib.sha256(original.read_bytes()).hexdigest() == pinned.sha256

    live = sorted(project.captures.get_captures(), key=lambda c: c.name)
    deleted, replaced = live[:5], live[5]
    relabelled, moved = live[10:20], live[20:30]
    for capture in deleted:
        capture.delete()
    replaced.path = shared_data / "watch" / "captures" / live[-1].name
    replaced.update()
    assert replaced.await_ready(sleep=0.2)
    for capture in relabelled:
        capture.metadata["Subject"] = "S99"
    for capture in moved:
        (segment,) = capture.segments
        capture.segments.remove(segment)
        capture.segments.add("Exercise", segment.value, segment.start + 10, segment.end)

    again = project.versions.get("v1")
    assert again.content_hash == v1.content_hash and again.verify()
    _assert_same(before, _state(again, tmp_path / "after"))

    v2 = project.versions.create("v2")
    assert v2.content_hash != v1.content_hash and v2.capture_count == 135
    diff = v1.diff(v2)
    assert sorted(c["name"] for c in diff["removed"]) == [c.name for c in deleted]
    assert diff["added"] == []
    changes = {c["name"]: c["changes"] for c in diff["changed"]}
    assert changes == {
        replaced.name: ["file"],
        **{c.name: ["metadata"] for c in relabelled},
        **{c.name: ["segments"] for c in moved},
    }
    first = next(c for c in diff["changed"] if c["name"] == relabelled[0].name)
    assert first["metadata"]["after"]["Subject"] == "S99"
    assert first["metadata"]["before"]["Subject"] != "S99"
    shifted = next(c for c in diff["changed"] if c["name"] == moved[0].name)
    assert (
        shifted["segments"]["after"][0]["start"] == shifted["segments"]["before"][0]["start"] + 10
    )
    assert sum(diff["labels"]["from"]["Exercise"].values()) == 140
    assert sum(diff["labels"]["to"]["Exercise"].values()) == 135
    # The hash is recomputed from the export alone, as docs/api.md describes.
    import json

    exported = json.loads(before["version.json"])
    assert hash_of_listing(exported["captures"]) == exported["content_hash"] == v1.content_hash
    assert [v.name for v in project.versions.list()] == ["v1", "v2"]


def _numpy_windows(
    data: dict[str, np.ndarray],
    segments: dict[str, list[tuple[str, str, int, int]]],
    label: str,
    size: int,
    step: int,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Plain loops over the recordings read by numpy from the CSV files."""
    windows, values, groups = [], [], []
    for name in sorted(data):
        for seg_label, value, start, end in segments.get(name, []):
            if seg_label != label:
                continue
            first = start
            while first + size - 1 <= end:
                windows.append(data[name][first : first + size])
                values.append(value)
                groups.append(name)
                first += step
    channels = next(iter(data.values())).shape[1]
    stacked = np.stack(windows) if windows else np.empty((0, size, channels))
    return stacked, values, groups


def test_windows_equal_an_independent_numpy_computation(
    client: Client, shared_data: Path, watch_manifest: list[dict[str, Any]]
) -> None:
    chosen = [e for e in watch_manifest if e["metadata"]["Subject"] in ("S01", "S02")][:12]
    folder = shared_data / "watch"
    captures = client.project.captures
    captures.create_label("Exercise", dropdown=False)
    captures.create_label("Rest", dropdown=False)
    for entry in chosen:
        captures.create_capture(Path(entry["file"]).name, folder / entry["file"])
    expected_segments: dict[str, list[tuple[str, str, int, int]]] = {}
    for index, entry in enumerate(chosen):
        name = Path(entry["file"]).name
        capture = captures.get_capture_by_filename(name)
        assert capture is not None and capture.await_ready(sleep=0.2)
        value = entry["segments"][0]["value"]
        # Two pieces of the recording, one shorter than a window, and another label.
        pieces = [
            ("Exercise", value, 0, 300 + 7 * index),
            ("Exercise", value, 400, 440),  # 41 samples: no window of 64
            ("Rest", "yes", 500, 700),
        ]
        capture.segments.add_many(pieces)
        expected_segments[name] = pieces
    data = {
        Path(entry["file"]).name: np.loadtxt(folder / entry["file"], delimiter=",", skiprows=1)
        for entry in chosen
    }
    version = client.project.versions.create("training")
    for size, step in ((64, 32), (64, 64), (50, 117), (1, 1), (301, 5)):
        X, y, groups = version.windows("Exercise", size=size, step=step)
        want_X, want_y, want_groups = _numpy_windows(
            data, expected_segments, "Exercise", size, step
        )
        assert X.shape == want_X.shape and X.shape[1:] == (size, 6), (size, step)
        np.testing.assert_allclose(X, want_X, rtol=0, atol=1e-12)
        assert list(y) == want_y
        assert list(groups) == want_groups
    X, y, groups = version.windows("Rest", size=201, step=1)
    assert X.shape == (12, 201, 6) and set(y) == {"yes"}

    with pytest.raises(ValueError, match="at least 1"):
        version.windows("Exercise", size=0, step=1)
    with pytest.raises(ValueError, match="at least 1"):
        version.windows("Exercise", size=10, step=-1)
    with pytest.raises(ValueError, match="longer than every 'Exercise' segment"):
        version.windows("Exercise", size=10_000, step=1)
    with pytest.raises(CapturehubError, match="no processed capture with a segment of label"):
        version.windows("Nothing", size=10, step=1)


def test_bad_input_is_refused(
    client: Client, server: RunningServer, shared_data: Path, watch_files: list[Path]
) -> None:
    client.project.captures.create_capture(watch_files[0].name, watch_files[0])
    versions = client.project.versions
    versions.create("v1")
    with pytest.raises(ConflictError, match="v1"):
        versions.create("v1")
    with pytest.raises(ValidationError, match="Colour"):
        versions.create("v2", where={"Colour": "red"})
    with pytest.raises(NotFoundError):
        versions.get("v9")
    with Client(
        server=server.url, username=server.other.username, password=server.other.password
    ) as stranger:
        theirs = stranger.projects.get_project_by_uuid(client.project.uuid)
        assert theirs is None
        from capturehub.datamanager.project import Project

        spoofed = Project(stranger.connection, {"uuid": client.project.uuid, "name": "x"})
        with pytest.raises(NotFoundError):
            spoofed.versions.create("mine")
        with pytest.raises(NotFoundError):
            spoofed.versions.get("v1")


def test_a_version_made_during_changes_is_a_consistent_snapshot(
    client: Client, server: RunningServer, watch_files: list[Path]
) -> None:
    """Deletes, segment edits (three segments a request) and uploads run in threads while
    versions are made; in every version each capture is whole: its metadata, and its
    segments in whole requests (never a capture without the segments it had)."""
    captures = client.project.captures
    captures.create_label("Exercise", dropdown=False)
    originals = watch_files[:24]
    for path in originals:
        captures.create_capture(path.name, path)
    made = []
    for path in originals:
        capture = captures.get_capture_by_filename(path.name)
        assert capture is not None
        capture.metadata["Batch"] = "first"
        capture.segments.add_many([("Exercise", "A", i * 10, i * 10 + 5) for i in range(3)])
        made.append(capture)
    stop = threading.Event()
    errors: list[BaseException] = []

    def guarded(work: Any) -> Any:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # reported by the test
                errors.append(exc)

        return run

    def delete() -> None:
        for capture in made[::2]:
            if stop.is_set():
                return
            capture.delete()

    def edit() -> None:
        round_ = 0
        while not stop.is_set():
            round_ += 1
            for capture in made[1::2]:
                start = 100 + round_ * 40
                capture.segments.add_many(
                    [("Exercise", "B", start + i * 10, start + i * 10 + 5) for i in range(3)]
                )
                if stop.is_set():
                    return

    def upload() -> None:
        for index, path in enumerate(watch_files[24:40]):
            if stop.is_set():
                return
            captures.create_capture(f"new-{index}-{path.name}", path)

    threads = [threading.Thread(target=guarded(work)) for work in (delete, edit, upload)]
    for thread in threads:
        thread.start()
    versions = []
    try:
        for index in range(6):
            versions.append(client.project.versions.create(f"during-{index}"))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors
    sha = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in watch_files}
    for version in versions:
        listing = version.listing()
        assert hash_of_listing(listing) == version.content_hash
        assert len(listing) == version.capture_count
        for item in listing:
            assert item["sha256"] == sha[item["name"].split("-", 2)[-1]]
            if item["name"].startswith("new-"):
                continue
            assert item["metadata"] == {"Batch": "first"}, (version.name, item["name"])
            count = len(item["segments"])
            assert count >= 3 and count % 3 == 0, (version.name, item["name"], count)
