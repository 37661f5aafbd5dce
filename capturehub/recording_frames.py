"""The binary batch frame of the recording WebSocket (docs/recording.md), shared by the SDK's
streaming client and the server, so both read the same eight bytes the same way.

A frame is a little-endian header of 8 bytes, then the rows, row after row::

    u32 seq | u8 value size (4: float32, 8: float64) | u8 channels | u16 reserved (0) | rows

JSON text frames (``{"seq": 3, "values": [[...], ...]}``) say the same in about four times the
bytes; the binary frame is for devices and gateways that send many batches.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

HEADER = struct.Struct("<IBBH")
VALUE_TYPES: dict[int, np.dtype[np.floating]] = {4: np.dtype("<f4"), 8: np.dtype("<f8")}
MAX_SEQ = 2**32 - 1


class FrameError(ValueError):
    """A binary frame that cannot be read; the message says what is wrong with it."""


@dataclass(frozen=True)
class Batch:
    seq: int
    rows: np.ndarray  # (rows, channels) float64


def encode_batch(seq: int, rows: np.ndarray | list[list[float]], *, value_size: int = 4) -> bytes:
    """The frame of batch ``seq``: ``rows`` as float32 (``value_size=4``) or float64 (8)."""
    if value_size not in VALUE_TYPES:
        raise ValueError("value_size is 4 (float32) or 8 (float64)")
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"seq must be 0 to {MAX_SEQ} in a binary frame")
    given = np.asarray(rows, dtype=np.float64)
    with np.errstate(over="ignore"):
        array = given.astype(VALUE_TYPES[value_size])
    if value_size == 4 and np.any(np.isinf(array) & np.isfinite(given)):
        raise ValueError("a value is too large for float32; send value_size=8 (float64)")
    if array.ndim != 2 or not 1 <= array.shape[1] <= 255:
        raise ValueError("rows must be a 2-D array of 1 to 255 channels")
    return HEADER.pack(seq, value_size, array.shape[1], 0) + array.tobytes()


def decode_batch(frame: bytes) -> Batch:
    """The batch in ``frame``; :class:`FrameError` for a frame that is not one."""
    if len(frame) < HEADER.size:
        raise FrameError(f"A binary batch starts with an {HEADER.size}-byte header.")
    seq, value_size, channels, reserved = HEADER.unpack_from(frame)
    dtype = VALUE_TYPES.get(value_size)
    if dtype is None:
        raise FrameError(f"Value size {value_size} is not 4 (float32) or 8 (float64).")
    if channels == 0 or reserved != 0:
        raise FrameError("The header's channel count is 0 or its reserved bytes are not 0.")
    payload = len(frame) - HEADER.size
    row_bytes = channels * value_size
    if payload == 0 or payload % row_bytes:
        raise FrameError(
            f"{payload} bytes of values are not whole rows of {channels} × {value_size} bytes."
        )
    rows = np.frombuffer(frame, dtype=dtype, offset=HEADER.size).reshape(-1, channels)
    return Batch(seq=seq, rows=rows.astype(np.float64))
