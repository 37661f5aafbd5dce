"""Generated recordings for benchmarks, shaped like the real ones in ../shared/data."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

CHANNELS = [
    "AccelerometerX",
    "AccelerometerY",
    "AccelerometerZ",
    "GyroscopeX",
    "GyroscopeY",
    "GyroscopeZ",
]


def make_csv(path: Path, rows: int, *, chunk_rows: int = 200_000, seed: int = 7) -> Path:
    """A 6-channel float CSV like the watch captures (about 57 bytes a row)."""
    if path.exists() and path.stat().st_size > 0:
        return path
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        handle.write(",".join(CHANNELS) + "\n")
        done = 0
        while done < rows:
            count = min(chunk_rows, rows - done)
            block = rng.normal(0.0, 1.0, size=(count, len(CHANNELS)))
            np.savetxt(handle, block, fmt="%.6f", delimiter=",")
            done += count
    return path


def make_csv_of_size(path: Path, size_bytes: int) -> Path:
    """A CSV of about ``size_bytes``, written fast by repeating one generated block."""
    if path.exists() and path.stat().st_size >= size_bytes:
        return path
    block_path = path.with_suffix(".block")
    make_csv(block_path, 200_000)
    header, body = block_path.read_bytes().split(b"\n", 1)
    with open(path, "wb") as handle:
        handle.write(header + b"\n")
        written = len(header) + 1
        while written < size_bytes:
            handle.write(body)
            written += len(body)
    block_path.unlink()
    return path


def make_wav(path: Path, seconds: float, *, rate: int = 250_000, seed: int = 3) -> Path:
    """A mono 16-bit PCM WAV like the ultrasonic recordings."""
    if path.exists() and path.stat().st_size > 0:
        return path
    frames = int(seconds * rate)
    rng = np.random.default_rng(seed)
    data_bytes = frames * 2
    with open(path, "wb") as handle:
        handle.write(b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE")
        handle.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16))
        handle.write(b"data" + struct.pack("<I", data_bytes))
        remaining = frames
        while remaining:
            count = min(remaining, 5_000_000)
            handle.write(rng.integers(-3000, 3000, size=count, dtype=np.int16).tobytes())
            remaining -= count
    return path
