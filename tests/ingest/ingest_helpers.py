"""Builders of small test files, written independently of capturehub's readers."""

from __future__ import annotations

import csv
import io
import random
import struct

import numpy as np


def wav_bytes(
    samples: bytes,
    *,
    channels: int,
    rate: int,
    bits: int,
    tag: int = 1,
    block_align: int | None = None,
    extensible: bool = False,
    big_endian: bool = False,
    data_size: int | None = None,
) -> bytes:
    """A WAV file built by hand (independently of capturehub's reader) around raw samples."""
    endian = ">" if big_endian else "<"
    align = block_align if block_align is not None else channels * ((bits + 7) // 8)
    if extensible:
        guid = struct.pack(endian + "IHH", tag, 0, 0x0010) + b"\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack(
            endian + "HHIIHHHHI", 0xFFFE, channels, rate, rate * align, align, bits, 22, bits, 0
        )
        fmt += guid
    else:
        fmt = struct.pack(endian + "HHIIHH", tag, channels, rate, rate * align, align, bits)
    size = len(samples) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack(endian + "I", len(fmt)) + fmt
    body += b"data" + struct.pack(endian + "I", size) + samples
    if len(samples) % 2:
        body += b"\x00"
    magic = b"RIFX" if big_endian else b"RIFF"
    return magic + struct.pack(endian + "I", len(body)) + body


def int24_bytes(values: np.ndarray) -> bytes:
    """Signed values packed as little-endian 3-byte integers."""
    unsigned = values.astype(np.int64) & 0xFFFFFF
    triples = np.stack([unsigned & 0xFF, (unsigned >> 8) & 0xFF, (unsigned >> 16) & 0xFF], axis=-1)
    return triples.astype(np.uint8).tobytes()


def merged_sensors_csv(rows: int, *, seed: int = 7) -> bytes:
    """A table merging sensors sampled at different rates, plus a logger that drops readings.

    ``accel`` has every row but a few dropped ones, ``gyro`` every other row, ``temp`` is an
    integer column whose first gap comes late (after the first parsing blocks), ``late`` is
    empty until a sensor starts two thirds of the way in, and ``quoted`` uses ``""`` for its gaps.
    """
    rng = random.Random(seed)
    lines = ["timestamp,accel,gyro,temp,late,quoted"]
    for i in range(rows):
        accel = "" if rng.random() < 0.05 else f"{rng.uniform(-2, 2):.4f}"
        gyro = f"{rng.uniform(-250, 250):.3f}" if i % 2 == 0 else ""
        temp = "" if i > rows * 3 // 4 and i % 5 == 0 else str(20 + i % 7)
        late = f"{i * 0.5}" if i >= rows * 2 // 3 else ""
        quoted = '""' if i % 3 == 1 else f'"{i}"'
        lines.append(f"{i / 100:.2f},{accel},{gyro},{temp},{late},{quoted}")
    return ("\n".join(lines) + "\n").encode()


def empty_cells_per_column(data: bytes) -> dict[str, int]:
    reader = csv.reader(io.StringIO(data.decode()))
    header = next(reader)
    counts = dict.fromkeys(header, 0)
    for row in reader:
        for name, cell in zip(header, row, strict=True):
            counts[name] += cell == ""
    return counts
