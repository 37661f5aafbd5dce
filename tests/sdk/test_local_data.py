"""The SDK on the server's machine reads stored files in place: ``Capture.get_data()``
memory-maps the columnar copy the server names and answers exactly the DataFrame the Arrow
stream gives; ``Capture.download()`` copies the original and writes exactly the bytes HTTP
gives. When the SDK cannot see that very file, or the server does not offer it, HTTP it is."""

from __future__ import annotations

import importlib
import os
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from capturehub import Captures, Client
from capturehub.datamanager import _arrow
from capturehub.datamanager.capture import Capture
from capturehub.server.captures.local_files import wants_local_file
from tests.conftest import RunningServer
from tests.servers import ServerProcess, new_server

SLICES = [(None, None), (10, 20), (0, 1), (5, None), (None, 7), (30, 30), (10**9, None)]


def streamed(capture: Capture, start: int | None, end: int | None) -> pd.DataFrame:
    """The frame read over HTTP: the connection is told it cannot see the server's files."""
    connection = capture._bound()[0]
    remembered = connection.reads_local_files
    connection.reads_local_files = False
    try:
        return capture.get_data(start, end)
    finally:
        connection.reads_local_files = remembered


def test_csv_read_in_place_equals_the_stream(captures: Captures, watch_files: list[Path]) -> None:
    path = watch_files[0]
    capture = captures.create_capture("in-place.csv", path, asynchronous=False)
    connection = capture._bound()[0]
    for start, end in SLICES:
        frame = capture.get_data(start, end)
        assert connection.reads_local_files is True
        pd.testing.assert_frame_equal(frame, streamed(capture, start, end))
    expected = pd.read_csv(path)
    whole = capture.get_data()
    for column in expected.columns:
        np.testing.assert_array_equal(whole[column].to_numpy(), expected[column].to_numpy())


def test_wav_read_in_place_equals_the_stream(captures: Captures, wav_file: Path) -> None:
    capture = captures.create_capture("in-place.wav", wav_file, asynchronous=False)
    with wave.open(str(wav_file)) as audio:
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    frame = capture.get_data()
    assert capture._bound()[0].reads_local_files is True
    np.testing.assert_array_equal(frame["channel_0"].to_numpy(), samples)
    for start, end in SLICES:
        pd.testing.assert_frame_equal(capture.get_data(start, end), streamed(capture, start, end))


def test_download_copies_in_place_the_exact_bytes(
    client: Client, wav_file: Path, watch_files: list[Path], tmp_path: Path
) -> None:
    reports: list[tuple[Path, int]] = []
    client.connection.progress = lambda path, done: reports.append((path, done))
    captures = client.project.captures
    for source in (wav_file, watch_files[2]):
        capture = captures.create_capture(source.name, source, asynchronous=False)
        local = capture.download(tmp_path / "in-place")
        assert client.connection.reads_local_files is True
        assert local.read_bytes() == source.read_bytes()
        assert reports[-1] == (local.with_name(local.name + ".part"), source.stat().st_size)
        client.connection.reads_local_files = False
        remote = capture.download(tmp_path / "over-http")
        client.connection.reads_local_files = True
        assert remote.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in (tmp_path / "in-place").iterdir()) == sorted(
        [wav_file.name, watch_files[2].name]
    )


def test_the_file_route_locates_only_whole_files(
    server: RunningServer, captures: Captures, wav_file: Path
) -> None:
    capture = captures.create_capture("whole.wav", wav_file, asynchronous=False)
    url = f"project/{captures._project.uuid}/capture/{capture.uuid}/file/"
    with server.http() as api:
        located = api.get(url, headers={"Accept": _arrow.LOCAL_FILE_TYPE})
        assert located.headers["content-type"] == _arrow.LOCAL_FILE_TYPE
        assert Path(located.json()["path"]).read_bytes() == wav_file.read_bytes()
        # A Range asks for bytes (a resumed download): they are sent, whatever Accept says.
        ranged = api.get(url, headers={"Accept": _arrow.LOCAL_FILE_TYPE, "Range": "bytes=4-11"})
        assert ranged.status_code == 206
        assert ranged.content == wav_file.read_bytes()[4:12]


def test_the_frame_owns_its_memory(captures: Captures, watch_files: list[Path]) -> None:
    """The samples are copied out of the read-only mapping: the frame can be written to, and it
    outlives the capture's files."""
    capture = captures.create_capture("owned.csv", watch_files[0], asynchronous=False)
    frame = capture.get_data()
    before = frame.iloc[:, 1].to_numpy().copy()
    frame.iloc[0, 1] = 12345.0
    assert frame.iloc[0, 1] == 12345.0
    capture.delete()
    np.testing.assert_array_equal(frame.iloc[1:, 1].to_numpy(), before[1:])


def test_the_server_locates_the_copy_only_for_a_loopback_client_that_asks(
    server: RunningServer, captures: Captures, watch_files: list[Path]
) -> None:
    capture = captures.create_capture("located.csv", watch_files[1], asynchronous=False)
    url = f"project/{captures._project.uuid}/capture/{capture.uuid}/data/"
    with server.http() as api:
        located = api.get(url, headers={"Accept": _arrow.LOCAL_FILE_TYPE})
        assert located.status_code == 200
        assert located.headers["content-type"] == _arrow.LOCAL_FILE_TYPE
        location = located.json()
        status = os.stat(location["path"])
        assert Path(location["path"]).is_relative_to(server.data_dir.resolve())
        assert location == {
            "path": location["path"],
            "size": status.st_size,
            "mtime_ns": status.st_mtime_ns,
            "inode": status.st_ino,
            "device": status.st_dev,
        }
        # Without the media type in Accept, the samples come as a stream (as for any client).
        plain = api.get(url)
        assert plain.headers["content-type"] == _arrow.ARROW_STREAM_TYPE
    for host, offered in [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("10.1.2.3", False),
        ("192.168.0.7", False),
        ("2001:db8::1", False),
        ("testclient", False),
        (None, False),
    ]:
        assert wants_local_file(_arrow.LOCAL_FILE_TYPE, host) is offered, host
    assert wants_local_file(_arrow.ARROW_STREAM_TYPE, "127.0.0.1") is False
    assert wants_local_file(None, "127.0.0.1") is False


def test_a_file_that_is_not_the_one_described_is_not_read(
    tmp_path: Path, watch_files: list[Path]
) -> None:
    """What the SDK checks before it reads in place: a location from another machine (same path,
    different file), a replaced copy or a missing file all answer None (then the stream)."""
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.ipc

    table = pyarrow.csv.read_csv(watch_files[0])
    path = tmp_path / "copy.arrow"
    with pa.OSFile(str(path), "wb") as sink, pyarrow.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    status = os.stat(path)
    location: dict[str, Any] = {
        "path": str(path),
        "size": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "inode": status.st_ino,
        "device": status.st_dev,
    }
    frame = _arrow.read_local_file(location, None, None)
    assert frame is not None
    pd.testing.assert_frame_equal(frame, table.to_pandas())
    for key, wrong in [
        ("mtime_ns", status.st_mtime_ns + 1),
        ("inode", status.st_ino + 1),
        ("device", status.st_dev + 1),
        ("size", status.st_size - 1),
        ("path", str(tmp_path / "missing.arrow")),
        ("path", str(tmp_path)),
        ("size", "many"),
    ]:
        assert _arrow.read_local_file({**location, key: wrong}, None, None) is None, key
    assert _arrow.read_local_file({"path": str(path)}, None, None) is None
    # Same size, mtime, inode and device but not an Arrow file: refused, not a crash.
    path.write_bytes(b"x" * status.st_size)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert _arrow.read_local_file(location, None, None) is None


def test_a_download_that_cannot_see_the_file_falls_back_to_http(
    client: Client, wav_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The module, not the function of the same name that the package exports.
    download_module = importlib.import_module("capturehub._transport.download")

    capture = client.project.captures.create_capture("elsewhere.wav", wav_file, asynchronous=False)
    described = download_module.open_described
    seen: list[str] = []

    def elsewhere(location: dict[str, Any]) -> Any:
        seen.append(location["path"])
        return described({**location, "inode": int(location["inode"]) + 1})

    monkeypatch.setattr(download_module, "open_described", elsewhere)
    target = capture.download(tmp_path)
    assert target.read_bytes() == wav_file.read_bytes()
    assert len(seen) == 1 and client.connection.reads_local_files is False
    assert capture.download(tmp_path / "again").read_bytes() == wav_file.read_bytes()
    assert len(seen) == 1  # not asked again on this connection


def test_a_client_that_cannot_see_the_file_falls_back_to_the_stream(
    captures: Captures, watch_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on another machine behind a same-host proxy: the server names a file this process
    cannot open. get_data() still answers the samples, and asks for the stream directly after."""
    capture = captures.create_capture("elsewhere.csv", watch_files[0], asynchronous=False)
    expected = streamed(capture, None, None)
    connection = capture._bound()[0]
    accepts: list[str] = []
    original_stream = connection.stream
    read_in_place = _arrow.read_local_file

    def recording_stream(method: str, path: str, **kwargs: Any) -> Any:
        accepts.append((kwargs.get("headers") or {}).get("Accept", ""))
        return original_stream(method, path, **kwargs)

    def elsewhere(
        location: dict[str, Any], start: int | None, end: int | None
    ) -> pd.DataFrame | None:
        assert os.path.exists(location["path"])  # the server did name a real file
        return read_in_place({**location, "path": f"/nonexistent/{uuid.uuid4()}"}, start, end)

    monkeypatch.setattr(_arrow, "read_local_file", elsewhere)
    monkeypatch.setattr(connection, "stream", recording_stream)
    pd.testing.assert_frame_equal(capture.get_data(), expected)
    assert connection.reads_local_files is False
    assert accepts == [
        f"{_arrow.LOCAL_FILE_TYPE}, {_arrow.ARROW_STREAM_TYPE};q=0.5",
        _arrow.ARROW_STREAM_TYPE,
    ]
    pd.testing.assert_frame_equal(capture.get_data(), expected)
    assert accepts[2:] == [_arrow.ARROW_STREAM_TYPE]


@pytest.fixture(scope="module")
def server_without_local_access(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerProcess]:
    process = new_server("sqlite", tmp_path_factory.mktemp("no-local-data"))
    try:
        process.start(CAPTUREHUB_LOCAL_DATA_ACCESS="false")
        yield process
    finally:
        process.close()


def test_the_setting_turns_the_local_path_off(
    server_without_local_access: ServerProcess, watch_files: list[Path], tmp_path: Path
) -> None:
    account = server_without_local_access.create_account(f"eve-{uuid.uuid4().hex[:6]}", "lab")
    with Client(
        server=server_without_local_access.url, username=account.username, password=account.password
    ) as client:
        client.project = "no-local"
        capture = client.project.captures.create_capture(
            "streamed.csv", watch_files[0], asynchronous=False
        )
        frame = capture.get_data(3, 9)
        downloaded = capture.download(tmp_path)
        # The server answered with the stream, so the SDK never learnt whether it could read
        # in place; it keeps asking (a server may turn the setting on).
        assert client.connection.reads_local_files is None
    assert downloaded.read_bytes() == watch_files[0].read_bytes()
    expected = pd.read_csv(watch_files[0])[3:9].reset_index(drop=True)
    for column in expected.columns:
        np.testing.assert_array_equal(frame[column].to_numpy(), expected[column].to_numpy())


@pytest.mark.parametrize("kernel_copy", [True, False], ids=["sendfile", "buffered"])
def test_the_copy_gives_every_byte_and_reports_progress(
    tmp_path: Path, wav_file: Path, kernel_copy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the kernel cannot copy file to file (macOS's sendfile wants a socket, Windows has
    none), the bytes go through a buffer: the same bytes either way."""
    from capturehub._transport import local_files

    if not kernel_copy:

        def refused(*args: Any) -> int:
            raise OSError(22, "Invalid argument")

        monkeypatch.setattr(local_files.os, "sendfile", refused, raising=False)
    monkeypatch.setattr(local_files, "COPY_CHUNK", 100_000)
    source = wav_file.read_bytes()
    descriptor = os.open(wav_file, os.O_RDONLY)
    reported: list[int] = []
    try:
        with open(tmp_path / "copy", "wb") as output:
            output.write(b"stale")  # the copy starts from the file's beginning, not here
            output.seek(0)
            output.truncate()
            assert local_files.copy_descriptor(descriptor, len(source), output, reported.append)
        # The caller's descriptor is still open and usable.
        assert os.pread(descriptor, 4, 0) == source[:4]
    finally:
        os.close(descriptor)
    assert (tmp_path / "copy").read_bytes() == source
    assert reported[-1] == len(source) and reported == sorted(reported)
