"""Capture: processing state, refresh, update, delete, download, data and statistics."""

from __future__ import annotations

import importlib
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capturehub import (
    APIError,
    Capture,
    CaptureExistsError,
    CapturehubError,
    Captures,
    CaptureUploadFailureError,
    Client,
    NotFoundError,
    ValidationError,
)
from tests.conftest import RunningServer
from tests.sdk.proxy import FaultProxy


@pytest.fixture
def ragged(tmp_path: Path) -> Path:
    path = tmp_path / "ragged.csv"
    path.write_text("x,y,z\n1,2,3\n4,5\n")
    return path


def test_await_ready_and_ready(captures: Captures, watch_files: list[Path]) -> None:
    capture = captures.create_capture("ready", watch_files[0])
    assert capture.await_ready(sleep=0.05) is True
    assert capture.ready is True
    assert capture.task_state == "SUCCESS"


def test_failed_processing_raises_with_the_servers_message(
    captures: Captures, ragged: Path
) -> None:
    capture = captures.create_capture("ragged", ragged)  # accepted, fails in the background
    with pytest.raises(CaptureUploadFailureError) as caught:
        capture.await_ready(sleep=0.05)
    assert capture.task_state == "FAILURE"
    assert capture.task_result
    assert str(capture.task_result) in caught.value.detail
    with pytest.raises(CaptureUploadFailureError):
        _ = capture.ready


def test_synchronous_failure_raises_and_stores_nothing(captures: Captures, ragged: Path) -> None:
    with pytest.raises(CaptureUploadFailureError) as caught:
        captures.create_capture("ragged", ragged, asynchronous=False)
    assert caught.value.status_code == 400
    assert isinstance(caught.value, ValidationError)
    assert caught.value.detail
    assert captures.get_capture_by_filename("ragged") is None


def test_refused_file_format(captures: Captures, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(CaptureUploadFailureError) as caught:
        captures.create_capture("notes", text)
    assert caught.value.status_code == 400


def test_missing_local_file(captures: Captures, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        captures.create_capture("nothing", tmp_path / "nothing.csv")


def test_await_ready_gives_up_after_retries(captures: Captures, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    row = b"1.5,2.25,3.125,4.0625,5.5,6.75\n"
    with big.open("wb") as out:
        out.write(b"a,b,c,d,e,f\n")
        chunk = row * 100_000
        for _ in range(10):  # 1 M rows, ~30 MB: processing takes a while
            out.write(chunk)
    capture = captures.create_capture("big", big)
    assert capture.await_ready(sleep=0, retries=1) is False
    assert capture.task_state in ("SENT", "STARTED")
    assert capture.await_ready(sleep=0.1) is True
    assert capture.number_samples == 1_000_000


def test_refresh(client: Client, server: RunningServer, watch_files: list[Path]) -> None:
    capture = client.project.captures.create_capture("before", watch_files[0])
    with Client(server.url, api_key=server.api_key, project=client.project.name) as colleague:
        theirs = colleague.project.captures.get_capture_by_uuid(capture.uuid)
        assert theirs is not None
        theirs.name = "after"
        theirs.update()
    response = capture.refresh()
    assert response.status_code == 200
    assert capture.name == "after"


def test_update_fields_without_file(captures: Captures, watch_files: list[Path]) -> None:
    capture = captures.create_capture("old name", watch_files[0], asynchronous=False)
    version = capture.version
    assert version is not None  # a stored capture has one
    capture.name = "new name"
    capture.set_sample_rate = 25
    response = capture.update()
    assert response.status_code == 200
    assert capture.version == version + 1
    assert capture.set_sample_rate == 25
    found = captures.get_capture_by_filename("new name")
    assert found is not None and found.set_sample_rate == 25
    assert captures.get_capture_by_filename("old name") is None
    assert capture.number_samples == sum(1 for _ in watch_files[0].open()) - 1  # data kept


def test_update_with_new_file(captures: Captures, watch_files: list[Path], tmp_path: Path) -> None:
    capture = captures.create_capture("replaced", watch_files[0], asynchronous=False)
    capture.path = str(watch_files[1])
    capture.update()
    assert capture.file_size == watch_files[1].stat().st_size
    assert capture.await_ready(sleep=0.05)
    assert capture.number_samples == sum(1 for _ in watch_files[1].open()) - 1
    downloaded = capture.download(tmp_path)
    assert downloaded.read_bytes() == watch_files[1].read_bytes()
    # A second update without a new path does not upload again.
    capture.set_sample_rate = 10
    capture.update()
    assert capture.file_size == watch_files[1].stat().st_size


def test_rename_onto_taken_name(captures: Captures, watch_files: list[Path]) -> None:
    captures.create_capture("taken", watch_files[0])
    capture = captures.create_capture("free", watch_files[1])
    capture.name = "taken"
    with pytest.raises(CaptureExistsError) as caught:
        capture.update()
    assert caught.value.status_code == 409


def test_delete(captures: Captures, watch_files: list[Path]) -> None:
    capture = captures.create_capture("doomed", watch_files[0])
    response = capture.delete()
    assert response.status_code == 204
    assert captures.get_capture_by_uuid(capture.uuid) is None
    with pytest.raises(NotFoundError) as caught:
        capture.refresh()
    assert caught.value.status_code == 404
    assert caught.value.detail
    with pytest.raises(NotFoundError):
        capture.delete()


def test_download_streams_exact_bytes(
    client: Client,
    captures: Captures,
    watch_files: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bytes come over HTTP: on loopback the SDK would otherwise copy the stored file in
    place (tests/sdk/test_local_data.py covers that path), and the HTTP body would go unread."""
    client.connection.reads_local_files = False  # as for a client on another machine

    def no_copy_in_place(*args: object) -> None:
        raise AssertionError("the download was meant to go over HTTP, not copy in place")

    # The module, not the function the package re-exports under the same name.
    download_module = importlib.import_module("capturehub._transport.download")
    monkeypatch.setattr(download_module, "_copy_in_place", no_copy_in_place)
    capture = captures.create_capture("Capture Name", watch_files[0])
    target = capture.download(tmp_path / "out")
    assert client.connection.reads_local_files is False
    assert target == tmp_path / "out" / "Capture Name.csv"
    assert target.read_bytes() == watch_files[0].read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["Capture Name.csv"]


def test_download_keeps_a_name_with_extension(
    captures: Captures, wav_file: Path, tmp_path: Path
) -> None:
    capture = captures.create_capture("calls.WAV", wav_file)
    target = capture.download(str(tmp_path))
    assert target.name == "calls.WAV"
    assert target.read_bytes() == wav_file.read_bytes()


def test_download_sanitizes_the_name(
    captures: Captures, watch_files: list[Path], tmp_path: Path
) -> None:
    capture = captures.create_capture("../up/and away", watch_files[0])
    target = capture.download(tmp_path)
    assert target.parent == tmp_path
    assert target.name == ".._up_and away.csv"


def test_download_defaults_to_the_current_directory(
    captures: Captures, watch_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = captures.create_capture("here", watch_files[0]).download()
    assert target == tmp_path / "here.csv"


def test_download_error_raises_and_writes_nothing(
    captures: Captures, watch_files: list[Path], tmp_path: Path
) -> None:
    """The SensiML SDK writes the error page to disk; ours raises."""
    capture = captures.create_capture("vanishing", watch_files[0])
    capture.delete()
    with pytest.raises(NotFoundError):
        capture.download(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_get_data_csv(captures: Captures, watch_files: list[Path]) -> None:
    path = watch_files[0]
    capture = captures.create_capture("data", path, asynchronous=False)
    frame = capture.get_data()
    expected = pd.read_csv(path)
    assert list(expected.columns) == [c for c in frame.columns if c in expected.columns]
    assert len(frame) == len(expected)
    for column in expected.columns:
        np.testing.assert_allclose(frame[column].to_numpy(), expected[column].to_numpy())
    part = capture.get_data(start=10, end=20)
    assert len(part) == 10
    np.testing.assert_allclose(
        part[expected.columns[0]].to_numpy(), expected[expected.columns[0]].to_numpy()[10:20]
    )


def test_get_data_wav(captures: Captures, wav_file: Path) -> None:
    capture = captures.create_capture("audio", wav_file, asynchronous=False)
    frame = capture.get_data()
    with wave.open(str(wav_file)) as audio:
        assert audio.getsampwidth() == 2 and audio.getnchannels() == 1
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    np.testing.assert_array_equal(frame["channel_0"].to_numpy(), samples)


def test_statistics(captures: Captures, watch_files: list[Path]) -> None:
    path = watch_files[0]
    capture = captures.create_capture("stats", path)
    assert capture.await_ready(sleep=0.05)
    expected = pd.read_csv(path)
    statistics = capture.statistics
    assert set(statistics) == set(expected.columns)
    for column in expected.columns:
        values = expected[column].to_numpy()
        got = statistics[column]
        assert got["count"] == len(values)
        assert got["nan_count"] == 0
        assert got["min"] == pytest.approx(values.min())
        assert got["max"] == pytest.approx(values.max())
        assert got["mean"] == pytest.approx(values.mean())
        assert got["std"] == pytest.approx(values.std())


def test_fields_and_repr(client: Client, watch_files: list[Path]) -> None:
    captures = client.project.captures
    capture = captures.create_capture("fields", watch_files[0])
    assert capture.path == str(watch_files[0])  # the local file it came from
    info = capture.capture_info
    assert info["uuid"] == capture.uuid and info["name"] == "fields"
    info["name"] = "changed"  # a copy
    assert capture.name == "fields"
    assert capture.created_at is not None and capture.created_at.tzinfo is not None
    fetched = captures.get_capture_by_uuid(capture.uuid)
    assert fetched is not None
    project_url = f"{client.server}project/{client.project.uuid}/"
    assert fetched.path == f"{project_url}capture/{capture.uuid}/file/"
    assert repr(fetched) == (
        f"<Capture name='fields' uuid={capture.uuid!r} task_state={fetched.task_state!r}>"
    )


def test_insert_directly(client: Client, watch_files: list[Path]) -> None:
    capture = Capture(client.connection, client.project, filename="", path=str(watch_files[0]))
    assert capture.name == watch_files[0].name
    response = capture.insert(asynchronous=True)
    assert response.status_code == 201
    assert capture.uuid
    with pytest.raises(CaptureExistsError):
        Capture(client.connection, client.project, path=str(watch_files[0])).insert()


def test_initialize_from_dict(client: Client, watch_files: list[Path]) -> None:
    created = client.project.captures.create_capture("dict", watch_files[0])
    detached = Capture.initialize_from_dict(created.capture_info)
    assert (detached.name, detached.uuid) == ("dict", created.uuid)
    with pytest.raises(CapturehubError, match="not bound"):
        detached.refresh()
    bound = Capture(client.connection, client.project)
    assert bound.initialize_from_dict({"name": "dict", "uuid": created.uuid}) is bound
    bound.refresh()
    assert bound.file_size == watch_files[0].stat().st_size


def test_interrupted_download_is_resumed(
    proxy: FaultProxy, server: RunningServer, project_name: str, wav_file: Path, tmp_path: Path
) -> None:
    with Client(proxy.url, api_key=server.api_key, project=project_name) as client:
        client.connection.reads_local_files = False  # as on another machine: over HTTP
        capture = client.project.captures.create_capture("resumed", wav_file)
        proxy.requests.clear()
        proxy.ranges.clear()
        proxy.fail_next("truncate")
        target = capture.download(tmp_path)
    assert target.read_bytes() == wav_file.read_bytes()
    half = wav_file.stat().st_size // 2
    assert proxy.ranges == [None, f"bytes={half}-"]  # the cut request, then the rest
    assert list(tmp_path.iterdir()) == [target]


def test_redirect_is_an_error_with_a_hint(
    proxy: FaultProxy, server: RunningServer, project_name: str
) -> None:
    with Client(proxy.url, api_key=server.api_key, project=project_name) as client:
        proxy.fail_next("redirect")
        with pytest.raises(APIError) as caught:
            client.list_captures()
    assert caught.value.status_code == 301
    assert "https://elsewhere.example/api/" in caught.value.detail
