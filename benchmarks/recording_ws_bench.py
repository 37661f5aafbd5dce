"""Live recording over the WebSocket: many recordings at once, paced in real time.

    python -m benchmarks.run --only recording-ws                      # 100 × 100 Hz × 6, 300 s
    python -m benchmarks.run --only recording-ws --backend postgresql

What runs at once:
- a sender process (asyncio, one WebSocket per recording, ``websockets``) streaming
  ``recordings`` recordings of 6 channels at ``rate`` Hz, one binary float64 batch every
  ``batch_ms`` ms each, within the server's flow-control window;
- readers (threads of this process, the SDK's ``get_data(start=...)``) that read every tenth
  recording about every 250 ms and note when each batch's rows first come back (the sample
  the latency is measured on; all recordings are read back in full at the end).

Figures: ``send_to_readable_p95_ms``, from sending a batch to the first ``get_data()`` that
returned its rows (a reader's round adds to it: an upper bound); the ack times (the server
acks only stored batches); samples sent, acknowledged and read back (value for value, before
the stop); batches refused by the window (none expected); the server's CPU (cores, from
/proc) and resident memory. Sender, readers and server share the same machine.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.recording_mqtt_bench import cpu_seconds, memory_mb, percentile
from tests.servers import new_server

CHANNELS = 6
READERS = 2
# Readers follow every WATCH_EVERY-th recording (10 of 100), each at most every ROUND_S: a
# reader polling all 100 as fast as it can would take the server's CPU from the recordings
# it measures. Every recording is read back in full at the end.
WATCH_EVERY = 10
ROUND_S = 0.25


def values(recording: int, first: int, rows: int) -> np.ndarray:
    """Rows ``first`` to ``first + rows`` of a recording: exact in float64, different per
    recording, sample and channel."""
    sample = np.arange(first, first + rows, dtype=np.int64)[:, None]
    channel = np.arange(CHANNELS, dtype=np.int64)[None, :]
    return ((sample * 7 + recording * 13 + channel * 101) % 2001 - 1000) / 8


async def _send_one(
    url: str, token: str, index: int, shape: dict[str, int], start_at: float, log: dict[str, Any]
) -> None:
    from websockets.asyncio.client import connect

    from capturehub.recording_frames import encode_batch

    per_batch = shape["rate"] * shape["batch_ms"] // 1000
    batches = shape["seconds"] * 1000 // shape["batch_ms"]
    interval = shape["batch_ms"] / 1000
    sent_at: dict[int, float] = {}
    acks: list[float] = []
    refused = 0
    async with connect(
        url, additional_headers={"Authorization": f"Bearer {token}"}, compression=None, proxy=None
    ) as socket:
        hello = json.loads(await socket.recv())
        window = hello["window"]
        free = asyncio.Semaphore(window)
        done = asyncio.Event()

        async def receive() -> None:
            nonlocal refused
            async for raw in socket:
                message = json.loads(raw)
                if "ack" in message:
                    acks.append(time.time() - sent_at[message["ack"]])
                    free.release()
                    if message["ack"] == batches:
                        done.set()
                        return
                elif "refused" in message:
                    refused += 1
                else:
                    raise RuntimeError(f"recording {index}: {message}")

        receiver = asyncio.create_task(receive())
        for k in range(batches):
            delay = start_at + k * interval - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await free.acquire()
            seq = k + 1
            sent_at[seq] = time.time()
            await socket.send(
                encode_batch(seq, values(index, k * per_batch, per_batch), value_size=8)
            )
        await asyncio.wait_for(done.wait(), timeout=300)
        receiver.cancel()
    log["sent"] = [sent_at[k + 1] for k in range(batches)]
    log["acks"] = acks
    log["refused"] = refused


async def _send_all(config: dict[str, Any]) -> list[dict[str, Any]]:
    shape = config["shape"]
    logs: list[dict[str, Any]] = [{} for _ in config["urls"]]
    start_at = time.time() + 2
    await asyncio.gather(
        *(
            # Staggered within a batch interval, as independent devices would be.
            _send_one(
                url,
                config["token"],
                index,
                shape,
                start_at + (index % 20) * shape["batch_ms"] / 20000,
                logs[index],
            )
            for index, url in enumerate(config["urls"])
        )
    )
    return logs


def sender_main() -> None:
    """The sender process: config JSON on stdin, the send log as JSON on stdout."""
    config = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(_send_all(config))))


class Reader(threading.Thread):
    def __init__(self, captures: list[Any], first_seen: list[list[tuple[int, float]]]) -> None:
        super().__init__(daemon=True)
        self.captures = captures  # (index, Capture)
        self.first_seen = first_seen
        self.rows = {index: 0 for index, _ in captures}
        self.stop = threading.Event()
        self.reads = 0

    def run(self) -> None:
        while not self.stop.is_set():
            round_started = time.monotonic()
            for index, capture in self.captures:
                frame = capture.get_data(start=self.rows[index])
                self.reads += 1
                if len(frame):
                    self.rows[index] += len(frame)
                    self.first_seen[index].append((self.rows[index], time.time()))
            self.stop.wait(max(0.0, ROUND_S - (time.monotonic() - round_started)))


def bench_recording_ws(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    shape = {
        "recordings": sizes["recording_ws_recordings"],
        "seconds": sizes["recording_ws_seconds"],
        "rate": 100,
        "batch_ms": sizes.get("recording_ws_batch_ms", 1000),
        "channels": CHANNELS,
    }
    server_dir = Path(tempfile.mkdtemp(prefix="recording-ws-", dir=workdir))
    process = new_server(backend, server_dir)
    try:
        return _run(process, shape)
    finally:
        process.close()
        shutil.rmtree(server_dir, ignore_errors=True)


def _run(process: Any, shape: dict[str, int]) -> dict[str, Any]:
    from capturehub import Client

    account = process.create_account("bench", "bench")
    process.start()
    token = process.token(account)
    api = httpx.Client(
        base_url=process.url, timeout=600, headers={"Authorization": f"Bearer {token}"}
    )
    project = api.post("project/", json={"name": "bench"}).json()["uuid"]
    channels = [{"name": f"ch{c}", "units": "m/s^2"} for c in range(CHANNELS)]
    uuids = [
        api.post(
            f"project/{project}/recordings/",
            json={"name": f"rec-{i:03d}", "channels": channels, "sample_rate": shape["rate"]},
        ).json()["uuid"]
        for i in range(shape["recordings"])
    ]
    ws = "ws" + process.url[4:]
    urls = [f"{ws}project/{project}/recordings/{c}/stream" for c in uuids]
    pid = process.process.pid
    client = Client(server=process.url, api_key=account.api_key)
    client.project = "bench"
    captures: list[tuple[int, Any]] = [
        (i, client.project.captures.get_capture_by_uuid(c)) for i, c in enumerate(uuids)
    ]
    first_seen: list[list[tuple[int, float]]] = [[] for _ in uuids]
    watched = captures[::WATCH_EVERY]
    readers = [Reader(watched[r::READERS], first_seen) for r in range(READERS)]

    sender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from benchmarks.recording_ws_bench import sender_main; sender_main()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    cpu_before, wall_before = cpu_seconds(pid), time.perf_counter()
    for reader in readers:
        reader.start()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    output, _ = sender.communicate(
        json.dumps({"urls": urls, "token": token, "shape": shape}),
        timeout=shape["seconds"] + 600,
    )
    sending_s = time.perf_counter() - wall_before
    cpu = (cpu_seconds(pid) - cpu_before) / sending_s
    rss_mb, peak_mb = memory_mb(pid, "VmRSS"), memory_mb(pid, "VmHWM")
    if sender.returncode != 0:
        raise RuntimeError(f"the sender failed ({sender.returncode})")
    logs = json.loads(output)
    time.sleep(2)  # the readers' last round
    for reader in readers:
        reader.stop.set()
    for reader in readers:
        reader.join()

    per_batch = shape["rate"] * shape["batch_ms"] // 1000
    readable: list[float] = []
    acks: list[float] = []
    for index, log in enumerate(logs):
        acks += log["acks"]
        seen = first_seen[index]
        if index % WATCH_EVERY:
            continue
        position = 0
        for k, sent in enumerate(log["sent"]):
            rows_after = (k + 1) * per_batch
            while position < len(seen) and seen[position][0] < rows_after:
                position += 1
            if position < len(seen):
                readable.append(seen[position][1] - sent)
    # Every sample, value for value, read back before the stop.
    batches = shape["seconds"] * 1000 // shape["batch_ms"]
    expected_rows = batches * per_batch
    lost = 0
    for index, capture in captures:
        stored = capture.get_data()[[f"ch{c}" for c in range(CHANNELS)]].to_numpy()
        if (
            stored.shape[0] != expected_rows
            or stored.tobytes() != values(index, 0, expected_rows).tobytes()
        ):
            lost += 1
    for uuid in uuids:
        api.post(f"project/{project}/recordings/{uuid}/stop/")
    client.close()
    api.close()
    return {
        **shape,
        "samples_sent": expected_rows * shape["recordings"],
        "batches_acked": len(acks),
        "recordings_not_equal": lost,
        "refused_by_window": sum(log["refused"] for log in logs),
        "send_to_readable_p50_ms": 1000 * (percentile(readable, 0.5) or 0),
        "send_to_readable_p95_ms": 1000 * (percentile(readable, 0.95) or 0),
        "send_to_readable_max_ms": 1000 * max(readable, default=0),
        "batches_read_back": len(readable),
        "recordings_watched": len(watched),
        "ack_p50_ms": 1000 * (percentile(acks, 0.5) or 0),
        "ack_p95_ms": 1000 * (percentile(acks, 0.95) or 0),
        "get_data_calls": sum(reader.reads for reader in readers),
        # Longer than `seconds` (+2 s of start) when the server could not keep the pace.
        "sending_s": sending_s,
        "server_cpu_cores": cpu,
        "server_rss_mb": rss_mb,
        "server_peak_rss_mb": peak_mb,
        "load_average_before": " ".join(load_before),
        "load_average_after": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }
