"""Measuring a WAV capture: the RIFF header read with ``struct``, the samples with numpy.

Why our own reader rather than the stdlib ``wave`` module, ``soundfile`` or
``scipy.io.wavfile``: ``wave`` (Python 3.11) reads integer PCM only (no float, no
WAVE_FORMAT_EXTENSIBLE); ``soundfile`` needs the native libsndfile and converts samples to
float or int32 rather than keeping the file's values; ``scipy.io.wavfile`` pulls SciPy into the
server for one function, returns 24-bit audio shifted left into int32, and reads the whole
file (or memory-maps it, which makes the process's RSS grow with the file). The format is
small: a chunk walk and a numpy dtype per encoding, read block by block so memory stays flat,
with a message of our own for every refusal.

Accepted: RIFF, RIFX (big-endian) and RF64 (over 4 GiB) containers; PCM in 1, 2, 3, 4 or 8-byte
samples; IEEE float in 4 or 8 bytes; G.711 µ-law and A-law (decoded to 16-bit values); any of
those inside WAVE_FORMAT_EXTENSIBLE. Other encodings (ADPCM, MP3, GSM…) are refused by name.

Values are stored as the file holds them: 8-bit PCM as unsigned ``uint8`` (silence is 128),
16-bit as ``int16``, 24-bit as ``int32`` holding the sign-extended 24-bit value
(-8388608…8388607, not shifted), 32-bit as ``int32``, 64-bit as ``int64``, floats as
``float32``/``float64``. A sample narrower than its container (12 bits in 2 bytes) keeps the
container's value, as the WAV format stores it left-justified.

A data chunk that declares more bytes than the file holds is an error (the file is truncated:
an interrupted upload should fail loudly, not silently lose its end); the one exception is the
size 0xFFFFFFFF that streaming writers leave when they cannot seek back, which means "to the
end of the file". ``calculated_sample_rate`` is ``None``: a WAV has no timestamps to compute a
rate from, only the header's, which goes to ``header_sample_rate``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from capturehub.ingest import formats
from capturehub.ingest.columnar import ColumnarWriter
from capturehub.ingest.errors import IngestError, show_value
from capturehub.ingest.measurement import Measurement
from capturehub.ingest.stats import RunningStatistics, typical_values

SAMPLES_PER_BLOCK = 1 << 20
_EXTENSIBLE = 0xFFFE
_PLACEHOLDER_SIZE = 0xFFFFFFFF
_GUID_TAIL = b"\x80\x00\x00\xaa\x00\x38\x9b\x71"
_SUPPORTED = {1: "pcm", 3: "float", 6: "alaw", 7: "mulaw"}
_REFUSED = {
    0x0002: "Microsoft ADPCM",
    0x0011: "IMA ADPCM",
    0x0022: "DSP Group TrueSpeech",
    0x0031: "GSM 6.10",
    0x0040: "G.721 ADPCM",
    0x0050: "MPEG audio",
    0x0055: "MP3",
    0x0064: "G.726 ADPCM",
    0x0161: "Windows Media Audio",
    0x1610: "AAC",
    0xF1AC: "FLAC",
}
_CONVERT_HINT = "convert it to PCM first (e.g. `sox in.wav -e signed-integer -b 16 out.wav`)"


@dataclass(frozen=True)
class WavLayout:
    """Where the samples are and how to read them."""

    encoding: str  # "pcm", "float", "mulaw" or "alaw"
    channels: int
    sample_rate: int
    block_align: int  # bytes per frame
    sample_bytes: int  # bytes per sample (the container)
    big_endian: bool
    data_offset: int
    frames: int


def measure_wav(source: Path, columnar_out: Path | None) -> Measurement:
    with open(source, "rb") as file:
        layout = read_layout(file)
        names = [f"channel_{i}" for i in range(layout.channels)]
        arrow_type = pa.from_numpy_dtype(_value_dtype(layout))
        schema = pa.schema(
            [pa.field(name, arrow_type) for name in names],
            metadata={
                "capturehub.source_format": "wav",
                "capturehub.sample_rate": str(layout.sample_rate),
            },
        )
        statistics: RunningStatistics | None = None
        writer = ColumnarWriter(columnar_out, schema) if columnar_out else None
        try:
            file.seek(layout.data_offset)
            frames_per_block = max(1, SAMPLES_PER_BLOCK // layout.channels)
            for first in range(0, layout.frames, frames_per_block):
                count = min(frames_per_block, layout.frames - first)
                values = _read_frames(file, layout, count)
                matrix = np.ascontiguousarray(values.T, dtype=np.float64)
                if statistics is None:  # the first block sets the reference (see stats.py)
                    statistics = RunningStatistics(names, shift=typical_values(matrix))
                statistics.merge(RunningStatistics.of_block(names, matrix, shift=statistics.shift))
                if writer:
                    columns = [
                        pa.array(np.ascontiguousarray(values[:, i])) for i in range(len(names))
                    ]
                    writer.write(pa.Table.from_arrays(columns, schema=schema))
            if writer:
                writer.commit()
        finally:
            if writer:
                writer.abort()
    kind = "float" if layout.encoding == "float" else "int"
    return Measurement(
        number_samples=layout.frames,
        max_sequence=layout.frames - 1,
        schema={name: {"type": kind} for name in names},
        calculated_sample_rate=None,
        header_sample_rate=float(layout.sample_rate),
        statistics=statistics.result() if statistics else {},
        channels=names,
    )


def read_layout(file: BinaryIO) -> WavLayout:
    """Walk the RIFF chunks up to ``data`` and check the format is one we can read."""
    file.seek(0, 2)
    file_size = file.tell()
    file.seek(0)
    head = file.read(64)
    _check_container(head)
    endian = ">" if head.startswith(b"RIFX") else "<"
    fmt: bytes | None = None
    ds64_data_size: int | None = None
    position = 12
    while True:
        file.seek(position)
        chunk_head = file.read(8)
        if len(chunk_head) < 8:
            missing = "fmt " if fmt is None else "data"
            raise IngestError(
                f'the WAV header is truncated: the file ends before its "{missing}" chunk '
                f"({file_size} bytes)"
            )
        chunk_id = chunk_head[:4]
        (size,) = struct.unpack(endian + "I", chunk_head[4:])
        body = position + 8
        if chunk_id == b"ds64":
            ds64 = file.read(min(size, 28))
            if len(ds64) < 16:
                raise IngestError("the WAV header is truncated: its ds64 chunk is incomplete")
            (ds64_data_size,) = struct.unpack("<Q", ds64[8:16])
        elif chunk_id == b"fmt ":
            fmt = file.read(min(size, 1 << 16))
            if len(fmt) < min(size, 16):
                raise IngestError("the WAV header is truncated: its fmt chunk is incomplete")
        elif chunk_id == b"data":
            if fmt is None:
                raise IngestError('the WAV file has its "data" chunk before its "fmt " chunk')
            if size == _PLACEHOLDER_SIZE and ds64_data_size is not None:
                size = ds64_data_size
            return _layout(fmt, endian, body, size, file_size)
        position = body + size + (size & 1)


def _check_container(head: bytes) -> None:
    if formats.WAV.looks_like(head):
        return
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RIFX"):
        kind = head[8:12].decode("latin-1")
        raise IngestError(f'not a RIFF/WAVE file: it is a RIFF file of type "{kind}", not WAVE')
    if len(head) < 12 and b"RIFF".startswith(head[:4]) and head:
        raise IngestError(f"the WAV header is truncated: the file has only {len(head)} bytes")
    if not head:
        raise IngestError("the file is empty: a WAV file needs a header and samples")
    other = formats.sniff(head)
    hint = ""
    if other is not None and other.is_text:
        hint = f" (it is text: if it is a {other.label}, upload it with a {other.suffix} name)"
    first_line = head.split(b"\n", 1)[0].removesuffix(b"\r")
    raise IngestError(f"not a RIFF/WAVE file: it starts with {show_value(first_line)}{hint}")


def _layout(fmt: bytes, endian: str, data_offset: int, size: int, file_size: int) -> WavLayout:
    if len(fmt) < 16:
        raise IngestError(f"the WAV fmt chunk is too short ({len(fmt)} bytes, expected 16 or more)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack(endian + "HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE:
        if len(fmt) < 40:
            raise IngestError(
                "the WAV fmt chunk says WAVE_FORMAT_EXTENSIBLE but is too short for it "
                f"({len(fmt)} bytes, expected 40)"
            )
        # The sub-format GUID is the old format tag inside a fixed GUID; its first three
        # fields follow the file's byte order.
        guid = fmt[24:40]
        data1, data2, data3 = struct.unpack(endian + "IHH", guid[:8])
        if data1 > 0xFFFF or data2 != 0 or data3 != 0x0010 or guid[8:] != _GUID_TAIL:
            raise IngestError(f"the WAV sub-format GUID {guid.hex()} is not a known audio format")
        tag = data1
    if tag not in _SUPPORTED:
        name = _REFUSED.get(tag, "an unknown encoding")
        raise IngestError(
            f"the WAV file is encoded with {name} (format tag 0x{tag:04x}); capturehub reads "
            "uncompressed PCM (8/16/24/32/64-bit), IEEE float (32/64-bit), µ-law and A-law: "
            + _CONVERT_HINT
        )
    encoding = _SUPPORTED[tag]
    if channels == 0:
        raise IngestError("the WAV header declares 0 channels")
    if rate == 0:
        raise IngestError("the WAV header declares a sample rate of 0 Hz")
    if block_align == 0 or block_align % channels:
        raise IngestError(
            f"the WAV header is inconsistent: a frame of {block_align} bytes cannot hold "
            f"{channels} channels of equal size"
        )
    sample_bytes = block_align // channels
    _check_sample_size(encoding, sample_bytes, bits)
    available = file_size - data_offset
    if size == _PLACEHOLDER_SIZE:
        size = available - available % block_align  # streamed file: read to the end
    if size > available:
        raise IngestError(
            f"the WAV file is truncated: its data chunk declares {size} bytes "
            f"({size // block_align} frames) but only {max(available, 0)} bytes follow the "
            "header (an interrupted upload or copy?)"
        )
    if size % block_align:
        raise IngestError(
            f"the WAV data chunk holds {size} bytes, not a whole number of {block_align}-byte "
            "frames"
        )
    if size == 0:
        raise IngestError("the WAV file holds no samples (its data chunk is empty)")
    return WavLayout(
        encoding=encoding,
        channels=channels,
        sample_rate=rate,
        block_align=block_align,
        sample_bytes=sample_bytes,
        big_endian=endian == ">",
        data_offset=data_offset,
        frames=size // block_align,
    )


def _check_sample_size(encoding: str, sample_bytes: int, bits: int) -> None:
    allowed = {"pcm": (1, 2, 3, 4, 8), "float": (4, 8), "mulaw": (1,), "alaw": (1,)}[encoding]
    if sample_bytes not in allowed:
        sizes = "/".join(str(8 * b) for b in allowed)
        raise IngestError(
            f"the WAV file stores {encoding.upper()} samples of {8 * sample_bytes} bits "
            f"({bits} significant); capturehub reads {sizes}-bit {encoding.upper()} samples: "
            + _CONVERT_HINT
        )
    if bits > 8 * sample_bytes:
        raise IngestError(
            f"the WAV header is inconsistent: {bits}-bit samples cannot fit in "
            f"{sample_bytes}-byte containers"
        )


def _value_dtype(layout: WavLayout) -> np.dtype[np.generic]:
    if layout.encoding in ("mulaw", "alaw"):
        return np.dtype(np.int16)
    if layout.encoding == "float":
        return np.dtype(np.float32 if layout.sample_bytes == 4 else np.float64)
    return np.dtype(
        {1: np.uint8, 2: np.int16, 3: np.int32, 4: np.int32, 8: np.int64}[layout.sample_bytes]
    )


def _read_frames(file: BinaryIO, layout: WavLayout, frames: int) -> npt.NDArray[np.generic]:
    """The next ``frames`` frames as a ``frames × channels`` array of the stored values."""
    raw = file.read(frames * layout.block_align)
    if len(raw) != frames * layout.block_align:
        raise IngestError("the WAV file is truncated: it ended while its samples were being read")
    samples = np.frombuffer(raw, dtype=np.uint8)
    if layout.encoding == "mulaw":
        values: npt.NDArray[np.generic] = _MULAW[samples]
    elif layout.encoding == "alaw":
        values = _ALAW[samples]
    elif layout.sample_bytes == 3:
        values = _int24(samples, big_endian=layout.big_endian)
    else:
        stored = _value_dtype(layout).newbyteorder(">" if layout.big_endian else "<")
        values = samples.view(stored).astype(_value_dtype(layout), copy=False)
    return values.reshape(frames, layout.channels)


def _int24(samples: npt.NDArray[np.uint8], *, big_endian: bool) -> npt.NDArray[np.int32]:
    triples = samples.reshape(-1, 3).astype(np.int32)
    low, middle, high = (triples[:, 2], triples[:, 1], triples[:, 0]) if big_endian else triples.T
    value = low | (middle << 8) | (high << 16)
    return np.where(value >= 1 << 23, value - (1 << 24), value).astype(np.int32)


def _g711_tables() -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
    """µ-law and A-law code → 16-bit linear value, for all 256 codes (ITU-T G.711)."""
    codes = np.arange(256, dtype=np.int32)
    # µ-law: codes are stored inverted; a segment (exponent) scales a 4-bit step, biased by 33.
    inverted = ~codes & 0xFF
    exponent, mantissa = (inverted >> 4) & 0x07, inverted & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    mulaw = np.where(inverted & 0x80, -magnitude, magnitude)
    # A-law: even bits are inverted; segment 0 is linear, the others double each step.
    toggled = codes ^ 0x55
    exponent, mantissa = (toggled >> 4) & 0x07, toggled & 0x0F
    linear = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    alaw = np.where(toggled & 0x80, linear, -linear)
    return mulaw.astype(np.int16), alaw.astype(np.int16)


_MULAW, _ALAW = _g711_tables()
