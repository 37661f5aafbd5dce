"""Generated recordings for benchmarks, shaped like the real ones in ../shared/data.

Every helper caches its file: an existing file is answered as it is, and a new one is written
under a temporary name and renamed, so that an interrupted run never leaves a truncated file
that a later run would take for a finished one.
"""

from __future__ import annotations

import os
import struct
import wave
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
CSV_ROW_BYTES = 57  # about, for make_csv's rows: 6 values of "%.6f" around 0 and separators


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def make_csv(path: Path, rows: int, *, chunk_rows: int = 200_000, seed: int = 7) -> Path:
    """A 6-channel float CSV like the watch captures (about 57 bytes a row)."""
    if path.exists() and path.stat().st_size > 0:
        return path
    rng = np.random.default_rng(seed)
    partial = _partial(path)
    with open(partial, "w") as handle:
        handle.write(",".join(CHANNELS) + "\n")
        done = 0
        while done < rows:
            count = min(chunk_rows, rows - done)
            block = rng.normal(0.0, 1.0, size=(count, len(CHANNELS)))
            np.savetxt(handle, block, fmt="%.6f", delimiter=",")
            done += count
    os.replace(partial, path)
    return path


def make_csv_of_size(path: Path, size_bytes: int, *, seed: int = 7) -> Path:
    """A CSV of at least ``size_bytes`` (cut at the first line end past it), written fast by
    repeating one generated block of at most 200,000 rows. Different seeds give different
    files."""
    if path.exists() and path.stat().st_size >= size_bytes:
        return path
    block_path = path.with_name(path.name + ".block")
    make_csv(block_path, min(200_000, size_bytes // CSV_ROW_BYTES + 2), seed=seed)
    header, body = block_path.read_bytes().split(b"\n", 1)
    block_path.unlink()
    partial = _partial(path)
    with open(partial, "wb") as handle:
        handle.write(header + b"\n")
        written = len(header) + 1
        while written < size_bytes:
            missing = size_bytes - written
            # Whole lines only: the last block is cut after the line that reaches the size.
            part = body if missing >= len(body) else body[: body.index(b"\n", missing - 1) + 1]
            handle.write(part)
            written += len(part)
    os.replace(partial, path)
    return path


def make_wav(path: Path, seconds: float, *, rate: int = 250_000, seed: int = 3) -> Path:
    """A mono 16-bit PCM WAV like the ultrasonic recordings."""
    if path.exists() and path.stat().st_size > 0:
        return path
    frames = int(seconds * rate)
    rng = np.random.default_rng(seed)
    data_bytes = frames * 2
    partial = _partial(path)
    with open(partial, "wb") as handle:
        handle.write(b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE")
        handle.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16))
        handle.write(b"data" + struct.pack("<I", data_bytes))
        remaining = frames
        while remaining:
            count = min(remaining, 5_000_000)
            handle.write(rng.integers(-3000, 3000, size=count, dtype=np.int16).tobytes())
            remaining -= count
    os.replace(partial, path)
    return path


def make_wav_of_size(
    path: Path,
    size_bytes: int,
    *,
    channels: int = 1,
    rate: int = 250_000,
    seed: int = 3,
    chunk_frames: int = 1 << 20,
) -> Path:
    """A 16-bit PCM WAV of at least ``size_bytes`` (header included), ``channels``
    interleaved channels at ``rate`` Hz, written with the standard library's ``wave``:
    a noisy tone, like the ultrasonic (mono) or multi-microphone recordings."""
    if path.exists() and path.stat().st_size >= size_bytes:
        return path
    frame_bytes = 2 * channels
    frames = max(1, -(-(size_bytes - 44) // frame_bytes))  # the canonical header is 44 bytes
    rng = np.random.default_rng(seed)
    partial = _partial(path)
    with wave.open(str(partial), "wb") as output:
        output.setnchannels(channels)
        output.setsampwidth(2)
        output.setframerate(rate)
        output.setnframes(frames)
        done = 0
        while done < frames:
            count = min(chunk_frames, frames - done)
            time = np.arange(done, done + count, dtype=np.float64)[:, None] / rate
            tone = 8000.0 * np.sin(2 * np.pi * 1000.0 * (np.arange(channels) + 1) * time)
            noise = rng.normal(0.0, 1000.0, size=(count, channels))
            samples = np.clip(tone + noise, -32768, 32767).astype("<i2")
            output.writeframesraw(samples.tobytes())  # C order: frames of interleaved channels
            done += count
    os.replace(partial, path)
    return path
