"""Reading simulated devices through the real transports (HTTP over loopback TCP, a
pseudo-terminal for serial) into a sink that keeps every batch: what arrives is what the
device sent, and damaged packets are dropped and counted."""

from __future__ import annotations

import time
from typing import Any

import pytest

from capturehub.recording import DeviceError, DeviceRecorder, open_device
from capturehub.recording.simple_streaming import StreamConfig
from tests.recording.devices.simulated import (
    SerialLineDevice,
    SerialStreamingDevice,
    TcpStreamingDevice,
    build_stream,
    ramp_rows,
)

SIX = ("AccelerometerX", "AccelerometerY", "AccelerometerZ", "GyroX", "GyroY", "GyroZ")


class ListSink:
    def __init__(self) -> None:
        self.batches: list[tuple[int | None, list[Any]]] = []

    def append(self, values: list[Any], seq: int | None = None) -> None:
        self.batches.append((seq, values))

    @property
    def rows(self) -> list[Any]:
        return [row for _, batch in self.batches for row in batch]


def wait_for(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


@pytest.mark.parametrize("version", [1, 2])
def test_tcp_device_rows_arrive_value_for_value(version: int) -> None:
    config = StreamConfig(sample_rate=476, columns=SIX, version=version, samples_per_packet=6)
    stream = build_stream(config, ramp_rows(2400, 6))
    sink = ListSink()
    with TcpStreamingDevice(config, stream) as simulated:
        device = open_device(simulated.url)
        assert (device.columns, device.sample_rate) == (SIX, 476)
        recorder = DeviceRecorder(device, sink)
        recorder.start()
        assert recorder.wait(30)
        final = recorder.stop()
    assert sink.rows == stream.intact_rows
    assert [seq for seq, _ in sink.batches] == list(range(1, len(sink.batches) + 1))
    assert final.samples_stored == 2400 and final.device.dropped_packets == 0


def test_tcp_v2_bad_checksums_are_dropped_and_counted() -> None:
    config = StreamConfig(sample_rate=100, columns=("x", "y", "z"), version=2)
    rows = [[1, -2, 3], *ramp_rows(999, 3)]  # the first packet is the reference vector
    stream = build_stream(config, rows, bad_checksum_every=10, garbage_every=7)
    assert stream.chunks[0] == bytes.fromhex("ff0c000000010000000100feff030002")
    sink = ListSink()
    with TcpStreamingDevice(config, stream) as simulated:
        recorder = DeviceRecorder(open_device(simulated.url), sink)
        recorder.start()
        assert recorder.wait(30)
        final = recorder.stop()
    assert sink.rows == stream.intact_rows and sink.rows[0] == [1, -2, 3]
    assert final.device.dropped_packets == stream.bad_packets == 100
    assert final.device.lost_packets == 0
    assert final.samples_stored == 900


def test_stopping_closes_the_tcp_stream() -> None:
    config = StreamConfig(sample_rate=200, columns=("x",), version=2, samples_per_packet=4)
    stream = build_stream(config, ramp_rows(20000, 1))
    sink = ListSink()
    with TcpStreamingDevice(config, stream, pace=200, close_at_end=False) as simulated:
        recorder = DeviceRecorder(open_device(simulated.url), sink)
        recorder.start()
        wait_for(lambda: recorder.progress().samples_stored >= 100)
        final = recorder.stop()
        assert simulated.stopped_by_client.wait(10)
    assert sink.rows == stream.intact_rows[: len(sink.rows)]
    assert final.samples_stored == len(sink.rows) >= 100


@pytest.mark.parametrize("version", [1, 2])
def test_serial_simple_streaming_connects_streams_and_disconnects(version: int) -> None:
    config = StreamConfig(sample_rate=476, columns=SIX, version=version, samples_per_packet=6)
    stream = build_stream(config, ramp_rows(1800, 6), bad_checksum_every=25 if version == 2 else 0)
    sink = ListSink()
    with SerialStreamingDevice(config, stream) as simulated:
        device = open_device(f"serial://{simulated.port}?baud=460800")
        assert device.protocol == f"Simple Streaming v{version}"
        recorder = DeviceRecorder(device, sink)
        recorder.start()
        wait_for(lambda: recorder.progress().samples_read >= len(stream.intact_rows))
        final = recorder.stop()
        assert simulated.disconnected.wait(10)
    assert sink.rows == stream.intact_rows
    assert final.device.dropped_packets == stream.bad_packets


@pytest.mark.parametrize("separator", [",", "\t", " "])
def test_serial_lines_detect_shape_and_arrive_value_for_value(separator: str) -> None:
    sent = [[index, index * 0.25, -3 * index] for index in range(400)]
    sink = ListSink()
    with SerialLineDevice(sent, rate=200, separator=separator) as simulated:
        device = open_device(f"serial://{simulated.port}", column_names=["ax", "ay", "az"])
        assert device.protocol == "lines" and device.columns == ("ax", "ay", "az")
        # Measured over the machine's scheduling, so not asserted closely (detect_shape's own
        # test checks the arithmetic on exact times).
        assert device.sample_rate > 2
        recorder = DeviceRecorder(device, sink)
        recorder.start()
        assert simulated.finished.wait(30)
        wait_for(lambda: recorder.progress().samples_read > 0 and sink.rows[-1][0] == 399)
        recorder.stop()
    written = [list(row) for row in simulated.sent]
    first = written.index(sink.rows[0])
    # Lines written before the port was opened are flushed by it, and the first line read
    # may be partial: the capture is every line written from the first whole one on.
    assert sink.rows == written[first:] and len(sink.rows) > 150


def test_line_device_given_rate_and_bad_url_messages() -> None:
    with SerialLineDevice([[1.5, 2]] * 600, rate=100) as simulated:
        device = open_device(f"serial://{simulated.port}?mode=lines", rate=104.5)
        assert device.sample_rate == 104.5 and device.columns == ("axis1", "axis2")
        device.close()
    with pytest.raises(DeviceError, match=r"tcp://HOST:PORT or serial:///dev/ttyX"):
        open_device("/dev/ttyUSB0")
    with pytest.raises(DeviceError, match="cannot open /nonexistent/tty"):
        open_device("serial:///nonexistent/tty")
    with pytest.raises(DeviceError, match="cannot reach the device"):
        open_device("tcp://127.0.0.1:9")
