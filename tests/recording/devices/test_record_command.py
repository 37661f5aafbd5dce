"""``capturehub record --device URL`` against a real server (SQLite; the recording service
itself is tested on both databases in tests/recording): each capture's samples, read back
through the SDK, equal what the simulated device sent, value for value."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from capturehub import Client
from capturehub.cli.main import cli
from capturehub.recording.simple_streaming import StreamConfig
from tests.conftest import RunningServer
from tests.recording.devices.simulated import (
    SerialLineDevice,
    SerialStreamingDevice,
    TcpStreamingDevice,
    build_stream,
    ramp_rows,
)

REPO = Path(__file__).resolve().parents[3]
SIX = ("AccelerometerX", "AccelerometerY", "AccelerometerZ", "GyroX", "GyroY", "GyroZ")
pytestmark = pytest.mark.parametrize("server", ["sqlite"], indirect=True)


@pytest.fixture
def client(server: RunningServer, project_name: str) -> Iterator[Client]:
    with Client(server=server.url, api_key=server.api_key) as client:
        client.project = project_name
        yield client


def record(server: RunningServer, tmp_path: Path, *args: str) -> Result:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CAPTUREHUB_SERVER": server.url,
        "CAPTUREHUB_API_KEY": server.api_key,
        "CAPTUREHUB_USERNAME": None,
        "CAPTUREHUB_PASSWORD": None,
    }
    return CliRunner().invoke(cli, ["record", *args], env=env, catch_exceptions=False)


def samples(client: Client, name: str, columns: tuple[str, ...]) -> list[list[Any]]:
    capture = client.project.captures.get_capture_by_filename(name, force=True)
    assert capture is not None
    assert capture.await_ready(sleep=0.2, retries=300)
    data = capture.get_data()
    return [list(row) for row in data[list(columns)].itertuples(index=False)]


@pytest.mark.parametrize("version", [1, 2])
def test_tcp_device_recorded_value_for_value_and_labelled(
    server: RunningServer, client: Client, tmp_path: Path, version: int
) -> None:
    config = StreamConfig(sample_rate=476, columns=SIX, version=version, samples_per_packet=6)
    rows = [[1, -2, 3, 4, -5, 6], *ramp_rows(2999, 6)]
    stream = build_stream(config, rows, bad_checksum_every=9 if version == 2 else 0)
    with TcpStreamingDevice(config, stream) as device:
        result = record(
            server,
            tmp_path,
            "--device",
            device.url,
            "-p",
            client.project.name,
            "-n",
            f"walk-v{version}",
            "--label",
            "Activity=walk",
            "--metadata",
            "Subject=S01",
            "--quiet",
        )
    assert result.exit_code == 0, result.output
    intact = len(stream.intact_rows)
    dropped = stream.bad_packets
    assert f"recorded {intact} samples of 6 columns at 476 Hz" in result.stdout
    assert "(the device ended its stream;" in result.stdout
    if version == 2:
        assert f"{dropped} packets dropped, 0 lost" in result.stdout and dropped == 55
    assert samples(client, f"walk-v{version}", SIX) == stream.intact_rows
    capture = client.project.captures.get_capture_by_filename(f"walk-v{version}", force=True)
    assert capture is not None
    segments = [(s.label, s.value, s.start, s.end) for s in capture.segments]
    assert segments == [("Activity", "walk", 0, intact - 1)]
    assert f"labelled samples 0..{intact - 1} Activity=walk" in result.stdout


def test_serial_simple_streaming_v2_recorded(
    server: RunningServer, client: Client, tmp_path: Path
) -> None:
    config = StreamConfig(sample_rate=476, columns=SIX, version=2, samples_per_packet=6)
    stream = build_stream(config, ramp_rows(1800, 6), bad_checksum_every=20)
    with SerialStreamingDevice(config, stream) as device:
        result = record(
            server,
            tmp_path,
            "--device",
            f"serial://{device.port}?baud=460800",
            "-p",
            client.project.name,
            "-n",
            "serial-v2",
            "--duration",
            "2",
            "--quiet",
        )
        assert result.exit_code == 0, result.output
        assert device.disconnected.wait(10)  # the recorder said `disconnect` when done
    assert "15 packets dropped, 0 lost" in result.stdout
    assert samples(client, "serial-v2", SIX) == stream.intact_rows


def test_serial_line_device_recorded(server: RunningServer, client: Client, tmp_path: Path) -> None:
    sent = [[index, round(index * 0.1, 1), -index / 8] for index in range(500)]
    with SerialLineDevice(sent, rate=250, separator="\t") as device:
        result = record(
            server,
            tmp_path,
            "--device",
            f"serial://{device.port}?mode=lines",
            "--columns",
            "accX,accY,accZ",
            "-p",
            client.project.name,
            "-n",
            "lines",
            "--duration",
            "2.5",
            "--quiet",
        )
        written = [[float(v) for v in row] for row in device.sent]
    assert result.exit_code == 0, result.output
    assert "0 bad lines" in result.stdout
    recorded = samples(client, "lines", ("accX", "accY", "accZ"))
    first = written.index(recorded[0])
    # Lines written before the port was opened are flushed by opening it; from the first
    # whole line read on, every line written is there, until --duration ended it.
    assert recorded == written[first : first + len(recorded)]
    assert len(recorded) > 100


def default_signals() -> None:
    # A test run started in the background (as from a non-interactive shell) ignores SIGINT,
    # and a child would inherit that; a person's terminal does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_device_and_the_recording(
    server: RunningServer, client: Client, tmp_path: Path, stop_signal: int
) -> None:
    config = StreamConfig(sample_rate=200, columns=("x", "y"), version=2, samples_per_packet=4)
    stream = build_stream(config, ramp_rows(40_000, 2))
    name = f"ctrl-c-{uuid.uuid4().hex[:6]}"
    with TcpStreamingDevice(config, stream, pace=200, close_at_end=False) as device:
        env = dict(os.environ)
        env.update(
            XDG_CONFIG_HOME=str(tmp_path / "config"),
            CAPTUREHUB_SERVER=server.url,
            CAPTUREHUB_API_KEY=server.api_key,
        )
        command = [sys.executable, "-m", "capturehub.cli.main", "record"]
        command += ["--device", device.url, "-p", client.project.name, "-n", name]
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=default_signals,
        )
        try:
            deadline = time.monotonic() + 60
            while device.bytes_sent < 4000 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
            process.send_signal(stop_signal)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, stderr
        assert device.stopped_by_client.wait(10)
    assert f"({'Ctrl-C' if stop_signal == signal.SIGINT else 'SIGTERM'};" in stdout
    assert "dropped (bad checksum)" in stderr  # the live view was drawn
    recorded = samples(client, name, ("x", "y"))
    assert len(recorded) >= 400
    assert recorded == stream.intact_rows[: len(recorded)]
    assert f"recorded {len(recorded)} samples" in stdout
