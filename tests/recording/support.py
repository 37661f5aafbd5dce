"""What the recording tests share: the canonical original written independently of the
server's code, and waiting for a capture's processing."""

from __future__ import annotations

import struct
import time
from typing import Any

import httpx


def canonical_csv(channels: list[str], rows: list[list[float]]) -> bytes:
    """The CSV a recording of ``rows`` must be stored as (docs/recording.md)."""
    lines = [",".join(channels)]
    lines += [",".join(repr(float(value)) for value in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def canonical_wav(channels: int, rate: int, rows: list[list[int]]) -> bytes:
    data = b"".join(struct.pack(f"<{channels}h", *row) for row in rows)
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        rate,
        rate * channels * 2,
        channels * 2,
        16,
        b"data",
        len(data),
    )
    return header + data


def start(
    api: httpx.Client, project_uuid: str, name: str, channels: list[str], **extra: Any
) -> dict[str, Any]:
    body = {"name": name, "channels": [{"name": c} for c in channels], "sample_rate": 100.0}
    body.update(extra)
    response = api.post(f"project/{project_uuid}/recordings/", json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def append(
    api: httpx.Client, project_uuid: str, capture_uuid: str, seq: Any, values: Any
) -> httpx.Response:
    return api.post(
        f"project/{project_uuid}/recordings/{capture_uuid}/batches/",
        json={"seq": seq, "values": values},
    )


def await_state(
    api: httpx.Client, project_uuid: str, capture_uuid: str, timeout: float = 120
) -> dict[str, Any]:
    """The capture once processed (SUCCESS or FAILURE)."""
    deadline = time.monotonic() + timeout
    while True:
        capture: dict[str, Any] = api.get(f"project/{project_uuid}/capture/{capture_uuid}/").json()
        if capture["task_state"] in ("SUCCESS", "FAILURE") or time.monotonic() > deadline:
            return capture
        time.sleep(0.2)
