"""Simple Streaming v2 from a simulated device over TCP into a recording, as
``capturehub record --device tcp://...`` does it (the same reader, recorder and SDK).

    python -m benchmarks.run --only recording-device --repeat 3

The device (tests/recording/devices/simulated.py, an HTTP server on loopback) sends 476 Hz × 6
channels, 6 rows per packet (79.3 packets a second), at its real pace, for
``recording_device_seconds``, then ends its stream. Figures: packets sent and received intact,
dropped, lost; samples sent, stored by the server, and read back with ``get_data()`` (compared
value for value); each batch's append time p50/p95; the time from the device's last byte to the
last batch stored; the server's CPU. Baseline in the same run, taking turns: the same device
read into a sink that keeps nothing (the reader alone, no server).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from capturehub.recording import DeviceRecorder, open_device
from capturehub.recording.simple_streaming import StreamConfig
from tests.recording.devices.simulated import TcpStreamingDevice, build_stream, ramp_rows
from tests.servers import new_server

RATE = 476
COLUMNS = ("AccelerometerX", "AccelerometerY", "AccelerometerZ", "GyroX", "GyroY", "GyroZ")
CONFIG = StreamConfig(sample_rate=RATE, columns=COLUMNS, version=2, samples_per_packet=6)


class TimedSink:
    """Forwards to the SDK's recording (or nowhere) and times each append."""

    def __init__(self, recording: Any = None) -> None:
        self.recording = recording
        self.append_seconds: list[float] = []
        self.last_stored = 0.0

    def append(self, values: list[Any], seq: int | None = None) -> None:
        started = time.perf_counter()
        if self.recording is not None:
            self.recording.append(values, seq=seq)
        self.append_seconds.append(time.perf_counter() - started)
        self.last_stored = time.monotonic()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(seconds: float, client: Any, server_pid: int | None) -> dict[str, Any]:
    rows = ramp_rows(int(seconds * RATE) // 6 * 6, 6)
    stream = build_stream(CONFIG, rows)
    recording = None
    if client is not None:
        recording = client.project.recordings.start(
            f"device-{uuid.uuid4().hex[:8]}",
            [{"name": name, "units": ""} for name in COLUMNS],
            RATE,
        )
    sink = TimedSink(recording)
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    with TcpStreamingDevice(CONFIG, stream, pace=RATE) as simulated:
        device = open_device(simulated.url)
        recorder = DeviceRecorder(device, sink)
        started = time.monotonic()
        recorder.start()
        recorder.wait(seconds * 3 + 60)
        final = recorder.stop()
        device_done = time.monotonic()
    wall = device_done - started
    figures: dict[str, Any] = {
        "packets_sent": len(stream.chunks),
        "packets_received": final.device.packets,
        "packets_dropped": final.device.dropped_packets,
        "packets_lost": final.device.lost_packets,
        "samples_sent": len(rows),
        "samples_stored": final.samples_stored,
        "append_p50_ms": statistics.median(sink.append_seconds) * 1000,
        "append_p95_ms": float(np.percentile(sink.append_seconds, 95)) * 1000,
    }
    if recording is not None:
        recording.stop()
        figures["server_cpu_percent"] = (
            100 * (cpu_seconds(server_pid) - cpu_before) / wall if server_pid else None
        )
        capture = client.project.captures.get_capture_by_uuid(recording.uuid)
        capture.await_ready(sleep=0.5)
        data = capture.get_data()
        stored = data[list(COLUMNS)].to_numpy()
        figures["samples_read_back"] = len(stored)
        figures["read_back_equal"] = bool(np.array_equal(stored, np.asarray(rows)))
    return figures


def bench_recording_device(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    from capturehub import Client

    seconds = float(sizes["recording_device_seconds"])
    process = new_server(backend, Path(tempfile.mkdtemp(prefix="server-", dir=workdir)))
    account = process.create_account("bench", "bench")
    process.start()
    try:
        assert process.process is not None
        with Client(
            server=process.url, username=account.username, password=account.password
        ) as client:
            client.project = "recording-device"
            runs: list[dict[str, Any]] = []
            baselines: list[dict[str, Any]] = []
            for _ in range(repeat):
                runs.append(one_run(seconds, client, process.process.pid))
                baselines.append(one_run(seconds, None, None))
    finally:
        process.close()

    def median(key: str, of: list[dict[str, Any]]) -> float:
        return float(statistics.median(run[key] for run in of))

    return {
        "seconds": seconds,
        "rate_hz": RATE,
        "channels": len(COLUMNS),
        "packets_sent": median("packets_sent", runs),
        "packets_received": median("packets_received", runs),
        "packets_lost_total": sum(run["packets_sent"] - run["packets_received"] for run in runs),
        "packets_dropped_total": sum(run["packets_dropped"] for run in runs),
        "samples_stored_equal_sent_all_runs": all(
            run["samples_stored"] == run["samples_sent"] == run["samples_read_back"]
            and run["read_back_equal"]
            for run in runs
        ),
        "append_p50_ms": median("append_p50_ms", runs),
        "append_p95_ms": median("append_p95_ms", runs),
        "append_p95_ms_runs": [run["append_p95_ms"] for run in runs],
        "server_cpu_percent": median("server_cpu_percent", runs),
        "baseline_packets_received": median("packets_received", baselines),
        "baseline_packets_lost_total": sum(
            run["packets_sent"] - run["packets_received"] for run in baselines
        ),
    }
