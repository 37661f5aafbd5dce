"""Captures: uploads, look-ups that stay true, labels, metadata and statistics."""

from __future__ import annotations

import threading
import wave
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import capturehub.datamanager._wire as wire
from capturehub import (
    BulkUploadError,
    Capture,
    CaptureExistsError,
    Captures,
    CaptureUploadFailureError,
    Client,
    ConflictError,
    NotFoundError,
    Project,
)
from tests.conftest import RunningServer
from tests.sdk.helpers import add_segments, set_metadata
from tests.sdk.proxy import FaultProxy


def _rows(path: Path) -> int:
    return sum(1 for _ in path.open()) - 1


def test_create_capture_csv(captures: Captures, watch_files: list[Path]) -> None:
    path = watch_files[0]
    capture = captures.create_capture("walk 1", path, capture_info={"set_sample_rate": 50})
    assert isinstance(capture, Capture)
    assert capture.name == capture.filename == "walk 1"
    assert len(capture.uuid) == 36
    assert capture.task_state in ("SENT", "STARTED", "SUCCESS")
    assert capture.file_size == path.stat().st_size
    assert capture.format == ".csv"
    assert capture.await_ready(sleep=0.1) is True
    assert capture.task_state == "SUCCESS"
    assert capture.number_samples == _rows(path)
    assert capture.max_sequence == _rows(path) - 1
    assert capture.set_sample_rate == 50
    assert set(capture.schema) == set(path.open().readline().strip().split(","))


def test_create_capture_wav(captures: Captures, wav_file: Path) -> None:
    capture = captures.create_capture("pup calls", str(wav_file), asynchronous=False)
    assert capture.task_state == "SUCCESS"  # processed before the answer
    with wave.open(str(wav_file)) as audio:
        assert capture.number_samples == audio.getnframes()
        assert capture.set_sample_rate == audio.getframerate()
    assert capture.format == ".wav"
    assert list(capture.schema) == ["channel_0"]


def test_duplicate_name_raises_capture_exists(captures: Captures, watch_files: list[Path]) -> None:
    captures.create_capture("dup", watch_files[0])
    with pytest.raises(CaptureExistsError) as caught:
        captures.create_capture("dup", watch_files[1])
    assert isinstance(caught.value, ConflictError)
    assert caught.value.status_code == 409
    assert "dup" in caught.value.detail
    assert len(captures.get_captures()) == 1


def test_concurrent_duplicate_raises_capture_exists(
    client: Client, server: RunningServer, watch_files: list[Path]
) -> None:
    """Two clients race to upload the same name: the server decides, the loser gets 409."""
    barrier = threading.Barrier(4)
    outcomes: list[Any] = []

    def race(index: int) -> None:
        with Client(server.url, api_key=server.api_key, project=client.project.name) as racer:
            barrier.wait()
            try:
                outcomes.append(racer.project.captures.create_capture("race", watch_files[index]))
            except CaptureExistsError as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, Capture) for o in outcomes) == 1
    assert sum(isinstance(o, CaptureExistsError) for o in outcomes) == 3


def test_get_capture_by_filename(captures: Captures, watch_files: list[Path]) -> None:
    created = captures.create_capture("Capture Name", watch_files[0])
    found = captures.get_capture_by_filename("Capture Name")
    assert found is not None
    assert found.uuid == created.uuid
    assert captures.get_capture_by_filename("capture name") is None  # exact match
    assert captures.get_capture_by_filename("missing") is None


def test_lookups_never_answer_deleted_captures(captures: Captures, watch_files: list[Path]) -> None:
    """The SensiML SDK's cache keeps deleted captures; ours asks the server."""
    kept = captures.create_capture("kept", watch_files[0])
    gone = captures.create_capture("gone", watch_files[1])
    assert set(captures.build_capture_list()) == {"kept", "gone"}
    gone.delete()
    assert captures.get_capture_by_filename("gone") is None
    assert captures.get_capture_by_filename("gone", force=False) is None
    assert captures.get_capture_by_uuid(gone.uuid) is None
    assert set(captures.build_capture_list(force=False)) == {"kept"}
    assert [c.uuid for c in captures.get_captures()] == [kept.uuid]


def test_lookups_see_uploads_from_other_clients(
    client: Client, server: RunningServer, watch_files: list[Path]
) -> None:
    """The SensiML SDK's cache misses captures uploaded elsewhere; ours does not."""
    captures = client.project.captures
    assert captures.build_capture_list() == {}
    assert captures.get_capture_by_filename("elsewhere") is None
    with Client(server.url, api_key=server.api_key, project=client.project.name) as colleague:
        uploaded = colleague.project.captures.create_capture("elsewhere", watch_files[0])
    found = captures.get_capture_by_filename("elsewhere")
    assert found is not None and found.uuid == uploaded.uuid
    assert list(captures.build_capture_list(force=False)) == ["elsewhere"]


def test_get_capture_by_uuid(captures: Captures, watch_files: list[Path]) -> None:
    created = captures.create_capture("by uuid", watch_files[0])
    found = captures.get_capture_by_uuid(created.uuid)
    assert found is not None
    assert (found.name, found.uuid, found.file_size) == ("by uuid", created.uuid, created.file_size)
    assert captures.get_capture_by_uuid("00000000-0000-4000-8000-000000000000") is None
    assert captures.get_capture_by_uuid("not-a-uuid") is None
    assert captures.get_capture_by_uuid("") is None


def test_other_teams_captures_are_invisible(
    client: Client, server: RunningServer, watch_files: list[Path], tmp_path: Path
) -> None:
    """The rival knows the owner's project and capture ids (they leak in logs, links, shared
    notebooks) and asks for them directly: every look-up answers as if they did not exist."""
    mine = client.project.captures.create_capture("private", watch_files[0], asynchronous=False)
    owners_project = client.project
    other = server.other
    with Client(server.url, other.username, other.password, project="rival project") as rival:
        # Its own project does not have them (the obvious part)...
        assert rival.project.captures.get_capture_by_uuid(mine.uuid) is None
        assert rival.project.captures.get_capture_by_filename("private") is None
        # ...nor can it reach the owner's project by its id.
        assert rival.projects.get_project_by_uuid(owners_project.uuid) is None
        assert owners_project.uuid not in {p.uuid for p in rival.projects.get_projects()}
        borrowed = Project(rival.connection, {"uuid": owners_project.uuid, "name": "private"})
        assert borrowed.captures.get_capture_by_uuid(mine.uuid) is None
        with pytest.raises(NotFoundError):
            borrowed.captures.get_capture_by_filename("private")
        with pytest.raises(NotFoundError):
            borrowed.captures.get_captures()
        with pytest.raises(NotFoundError):
            borrowed.refresh()
        stolen = Capture.initialize_from_dict(
            {"uuid": mine.uuid, "name": "private"}, connection=rival.connection, project=borrowed
        )
        with pytest.raises(NotFoundError):
            stolen.get_data()
        with pytest.raises(NotFoundError):
            stolen.download(tmp_path)
        assert list(tmp_path.iterdir()) == []
    # The owner still sees everything, unchanged.
    assert client.project.captures.get_capture_by_uuid(mine.uuid) is not None


def test_get_captures(captures: Captures, watch_files: list[Path]) -> None:
    created = [captures.create_capture(path.name, path) for path in watch_files[:3]]
    listed = captures.get_captures()
    assert sorted(c.uuid for c in listed) == sorted(c.uuid for c in created)
    assert all(isinstance(c, Capture) for c in listed)
    assert sorted(c.name for c in captures) == sorted(p.name for p in watch_files[:3])


def test_get_or_create(captures: Captures, watch_files: list[Path]) -> None:
    first = captures.get_or_create("shared name", watch_files[0])
    second = captures.get_or_create("shared name", watch_files[1])  # exists: not uploaded
    assert second.uuid == first.uuid
    assert second.file_size == watch_files[0].stat().st_size
    assert len(captures.get_captures()) == 1


def test_upload_many(captures: Captures, watch_files: list[Path]) -> None:
    paths = watch_files[:12]
    uploaded = captures.upload_many(paths, workers=4)
    assert [c.name for c in uploaded] == [p.name for p in paths]
    assert [c.file_size for c in uploaded] == [p.stat().st_size for p in paths]
    assert all(c.await_ready(sleep=0.1) for c in uploaded)
    assert len(captures.get_captures()) == 12
    again = captures.upload_many(paths[:3], exist_ok=True)
    assert [c.uuid for c in again] == [c.uuid for c in uploaded[:3]]


def test_upload_many_collects_failures(
    captures: Captures, watch_files: list[Path], tmp_path: Path
) -> None:
    captures.create_capture(watch_files[0].name, watch_files[0])
    missing = tmp_path / "missing.csv"
    paths = [watch_files[0], watch_files[1], missing, watch_files[2]]
    with pytest.raises(BulkUploadError) as caught:
        captures.upload_many(paths, workers=2)
    error = caught.value
    assert [c.name for c in error.captures] == [watch_files[1].name, watch_files[2].name]
    assert isinstance(error.errors[str(watch_files[0])], CaptureExistsError)
    assert isinstance(error.errors[str(missing)], FileNotFoundError)
    assert "2 of 4 uploads failed" in str(error)


def test_upload_many_names(captures: Captures, watch_files: list[Path]) -> None:
    uploaded = captures.upload_many(watch_files[:2], names=["a", "b"])
    assert [c.name for c in uploaded] == ["a", "b"]
    with pytest.raises(ValueError, match="2 names for 1 paths"):
        captures.upload_many(watch_files[:1], names=["a", "b"])


def test_list_captures_dataframe(client: Client, watch_files: list[Path]) -> None:
    captures = client.project.captures
    created = captures.create_capture("framed", watch_files[0], asynchronous=False)
    frame = client.list_captures()
    assert list(frame.columns) == [
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
    row = frame.iloc[0]
    assert (row["name"], row["uuid"], row["task_state"]) == ("framed", created.uuid, "SUCCESS")
    assert row["number_samples"] == _rows(watch_files[0])
    assert isinstance(row["created_at"], pd.Timestamp)


def test_list_captures_pages(
    proxy: FaultProxy,
    server: RunningServer,
    project_name: str,
    watch_files: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wire, "PAGE_SIZE", 2)
    with Client(proxy.url, api_key=server.api_key, project=project_name) as client:
        captures = client.project.captures
        captures.upload_many(watch_files[:5])
        proxy.requests.clear()
        assert sorted(c.name for c in captures.get_captures()) == [p.name for p in watch_files[:5]]
        pages = [path for method, path in proxy.requests if "/capture/?" in path]
        assert len(pages) == 3
        assert all("limit=2" in path for path in pages)
        # By cursor: each page starts after the previous one, none skips by offset.
        assert all("after=" in path and "offset=" not in path for path in pages)
        assert len(client.list_captures()) == 5


# -- labels, metadata, statistics (§6, §7) ------------------------------------------------------


@pytest.fixture
def annotated(
    client: Client,
    server: RunningServer,
    watch_files: list[Path],
    watch_manifest: list[dict[str, Any]],
) -> list[Capture]:
    """Four watch captures with their Subject/Side metadata and Exercise segment."""
    captures = client.project.captures
    entries = watch_manifest[:4]
    uploaded = captures.upload_many(
        [watch_files[0].parent.parent / e["file"] for e in entries], asynchronous=False
    )
    with server.http() as api:
        for capture, entry in zip(uploaded, entries, strict=True):
            set_metadata(api, capture, entry["metadata"])
            add_segments(api, capture, [dict(s) for s in entry["segments"]])
    return uploaded


def test_label_and_metadata_names(
    captures: Captures, annotated: list[Capture], watch_manifest: list[dict[str, Any]]
) -> None:
    entries = watch_manifest[:4]
    assert captures.get_label_names() == ["Exercise"]
    assert sorted(captures.get_metadata_names()) == ["Side", "Subject"]
    labels = captures.get_label_names_and_values()
    assert sorted(labels["Exercise"]) == sorted({e["segments"][0]["value"] for e in entries})
    metadata = {item["name"]: item for item in captures.get_metadata_names_and_values()}
    assert sorted(metadata["Subject"]["values"]) == sorted(
        {e["metadata"]["Subject"] for e in entries}
    )
    assert metadata["Subject"]["type"] == "string"


def test_get_captures_by_metadata(
    captures: Captures,
    annotated: list[Capture],
    watch_manifest: list[dict[str, Any]],
    server: RunningServer,
) -> None:
    entries = watch_manifest[:4]
    subject = entries[0]["metadata"]["Subject"]
    expected = {
        c.uuid
        for c, e in zip(annotated, entries, strict=True)
        if e["metadata"]["Subject"] == subject
    }
    found = captures.get_captures_by_metadata("Subject", subject)
    assert {c.uuid for c in found} == expected
    assert captures.get_captures_by_metadata("Subject", "nobody") == []
    # Values with characters that are special in a URL path still work.
    with server.http() as api:
        set_metadata(api, annotated[1], {"Site": "lab/a b?c#d"})
    odd = captures.get_captures_by_metadata("Site", "lab/a b?c#d")
    assert [c.uuid for c in odd] == [annotated[1].uuid]


def test_get_statistics(
    captures: Captures, annotated: list[Capture], watch_manifest: list[dict[str, Any]]
) -> None:
    entries = watch_manifest[:4]
    frame, complete = captures.get_statistics()
    assert complete is True
    assert list(frame.columns[:3]) == ["capture_name", "capture_uuid", "total_event_count"]
    values = sorted({e["segments"][0]["value"] for e in entries})
    label_columns = [f"Exercise: {value}" for value in values]
    assert set(label_columns) <= set(frame.columns)
    assert {"Subject", "Side"} <= set(frame.columns)
    assert {"number_samples", "set_sample_rate"} <= set(frame.columns)
    assert len(frame) == 4
    for capture, entry in zip(annotated, entries, strict=True):
        row = frame[frame["capture_uuid"] == capture.uuid].iloc[0]
        assert row["capture_name"] == capture.name
        assert row["total_event_count"] == 1
        assert row[f"Exercise: {entry['segments'][0]['value']}"] == 1
        assert sum(row[column] for column in label_columns) == 1
        assert row["Subject"] == entry["metadata"]["Subject"]
        assert row["number_samples"] == capture.number_samples


def test_get_statistics_reports_unfinished_processing(
    captures: Captures, watch_files: list[Path], tmp_path: Path
) -> None:
    frame, complete = captures.get_statistics()
    assert frame.empty and complete is True
    captures.create_capture("good", watch_files[0], asynchronous=False)
    bad = tmp_path / "ragged.csv"
    bad.write_text("x,y\n1,2\n3\n")
    failed = captures.create_capture("ragged", bad)
    with pytest.raises(CaptureUploadFailureError):
        failed.await_ready(sleep=0.1)
    frame, complete = captures.get_statistics()
    assert sorted(frame["capture_name"]) == ["good", "ragged"]
    assert complete is True  # a FAILURE has finished processing too
    big = tmp_path / "big.csv"
    with big.open("wb") as out:  # ~30 MB: still being processed when statistics are asked
        out.write(b"a,b,c,d,e,f\n" + b"1.5,2.25,3.125,4.0625,5.5,6.75\n" * 1_000_000)
    pending = captures.create_capture("big", big)
    frame, complete = captures.get_statistics()
    assert complete is False
    assert pending.await_ready(sleep=0.1)
    assert captures.get_statistics()[1] is True
