"""Builders of small test files, written independently of capturehub's readers."""

from __future__ import annotations

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
