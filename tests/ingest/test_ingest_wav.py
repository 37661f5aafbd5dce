"""WAV files: every sample encoding, SciPy's edge-case files, and the refusals.

Synthetic files are built by hand (ingest_helpers.wav_bytes) around known numpy arrays, and
SciPy's own test WAVs are compared with scipy.io.wavfile; neither uses capturehub's reader.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import scipy.io.wavfile
from ingest_helpers import int24_bytes, wav_bytes

import capturehub.ingest.columnar as columnar
import capturehub.ingest.wavfile as ingest_wav
from capturehub.ingest import IngestError, measure, read_columnar

WriteFile = Callable[[str, bytes], Path]
SCIPY_DATA = Path(scipy.io.__file__).parent / "tests" / "data"
RNG = np.random.default_rng(3)


def check_capture(path: Path, tmp_path: Path, expected: np.ndarray, rate: int) -> None:
    """measure() agrees with ``expected`` (frames × channels, in the stored dtype)."""
    out = tmp_path / "out.arrow"
    measurement = measure(path, ".wav", out)
    frames, channels = expected.shape
    names = [f"channel_{i}" for i in range(channels)]
    kind = "float" if expected.dtype.kind == "f" else "int"
    assert measurement.number_samples == frames
    assert measurement.max_sequence == frames - 1
    assert measurement.header_sample_rate == float(rate)
    assert measurement.calculated_sample_rate is None
    assert measurement.channels == names
    assert measurement.schema == {name: {"type": kind} for name in names}
    table = read_columnar(out)
    assert table.column_names == names
    for index, name in enumerate(names):
        values = expected[:, index]
        assert table.schema.field(name).type == pa.from_numpy_dtype(expected.dtype)
        np.testing.assert_array_equal(table.column(name).to_numpy(), values)
        as_float = values.astype(np.float64)
        stats = measurement.statistics[name]
        assert (stats.count, stats.nan_count) == (frames, 0)
        assert (stats.min, stats.max) == (as_float.min(), as_float.max())
        # Means carry rounding at the scale of the values themselves, not of the mean.
        scale = float(np.abs(as_float).max())
        assert stats.mean == pytest.approx(as_float.mean(), rel=1e-12, abs=1e-13 * scale)
        assert stats.std == pytest.approx(as_float.std(), rel=1e-10, abs=1e-12)


def test_unsigned_8_bit(write_file: WriteFile, tmp_path: Path) -> None:
    values = RNG.integers(0, 256, size=(501, 2)).astype(np.uint8)
    data = wav_bytes(values.tobytes(), channels=2, rate=8000, bits=8)
    check_capture(write_file("u8.wav", data), tmp_path, values, 8000)


def test_signed_16_bit(write_file: WriteFile, tmp_path: Path) -> None:
    values = RNG.integers(-32768, 32768, size=(1000, 1)).astype(np.int16)
    data = wav_bytes(values.astype("<i2").tobytes(), channels=1, rate=44100, bits=16)
    check_capture(write_file("i16.wav", data), tmp_path, values, 44100)


@pytest.mark.parametrize("big_endian", [False, True], ids=["RIFF", "RIFX"])
def test_signed_24_bit_keeps_24_bit_values(
    write_file: WriteFile, tmp_path: Path, big_endian: bool
) -> None:
    values = RNG.integers(-(1 << 23), 1 << 23, size=(300, 3)).astype(np.int32)
    values[0] = [-(1 << 23), (1 << 23) - 1, 0]
    raw = int24_bytes(values)
    if big_endian:
        raw = np.frombuffer(raw, np.uint8).reshape(-1, 3)[:, ::-1].tobytes()
    data = wav_bytes(raw, channels=3, rate=96000, bits=24, big_endian=big_endian)
    check_capture(write_file("i24.wav", data), tmp_path, values, 96000)


def test_signed_32_and_64_bit(write_file: WriteFile, tmp_path: Path) -> None:
    values = RNG.integers(-(1 << 31), 1 << 31, size=(200, 2)).astype(np.int32)
    data = wav_bytes(values.astype("<i4").tobytes(), channels=2, rate=1000, bits=32)
    check_capture(write_file("i32.wav", data), tmp_path, values, 1000)
    wide = RNG.integers(-(1 << 62), 1 << 62, size=(50, 1)).astype(np.int64)
    data = wav_bytes(wide.astype("<i8").tobytes(), channels=1, rate=1000, bits=64)
    check_capture(write_file("i64.wav", data), tmp_path, wide, 1000)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("extensible", [False, True])
def test_ieee_float(
    write_file: WriteFile, tmp_path: Path, dtype: type[np.floating[Any]], extensible: bool
) -> None:
    values = RNG.normal(size=(400, 2)).astype(dtype)
    bits = np.dtype(dtype).itemsize * 8
    raw = values.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
    data = wav_bytes(raw, channels=2, rate=48000, bits=bits, tag=3, extensible=extensible)
    check_capture(write_file("float.wav", data), tmp_path, values, 48000)


def test_extensible_pcm(write_file: WriteFile, tmp_path: Path) -> None:
    values = RNG.integers(-32768, 32768, size=(64, 6)).astype(np.int16)
    data = wav_bytes(values.tobytes(), channels=6, rate=16000, bits=16, extensible=True)
    check_capture(write_file("ext.wav", data), tmp_path, values, 16000)


def test_big_endian_16_bit(write_file: WriteFile, tmp_path: Path) -> None:
    values = RNG.integers(-32768, 32768, size=(100, 1)).astype(np.int16)
    data = wav_bytes(
        values.astype(">i2").tobytes(), channels=1, rate=8000, bits=16, big_endian=True
    )
    check_capture(write_file("be.wav", data), tmp_path, values, 8000)


# G.711 reference points (ITU-T G.711 tables, 16-bit scaling as in Sun's g711.c / audioop).
MULAW = {0x00: -32124, 0x0F: -16764, 0x7F: 0, 0x80: 32124, 0xEF: 132, 0xFE: 8, 0xFF: 0}
ALAW = {0x00: -5504, 0x55: -8, 0xD5: 8, 0x2A: -32256, 0xAA: 32256, 0x80: 5504}


def g711_reference(kind: str) -> np.ndarray | None:
    """All 256 codes decoded by the stdlib audioop module, where the Python still has it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import audioop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    decode = audioop.ulaw2lin if kind == "mulaw" else audioop.alaw2lin
    return np.frombuffer(decode(bytes(range(256)), 2), dtype="<i2")


@pytest.mark.parametrize(("kind", "tag", "points"), [("mulaw", 7, MULAW), ("alaw", 6, ALAW)])
def test_g711_is_decoded_to_16_bit(
    write_file: WriteFile, tmp_path: Path, kind: str, tag: int, points: dict[int, int]
) -> None:
    codes = np.arange(256, dtype=np.uint8)
    data = wav_bytes(codes.tobytes(), channels=1, rate=8000, bits=8, tag=tag)
    out = tmp_path / "g711.arrow"
    measurement = measure(write_file(f"{kind}.wav", data), ".wav", out)
    decoded = read_columnar(out).column("channel_0").to_numpy()
    assert decoded.dtype == np.int16
    assert measurement.schema == {"channel_0": {"type": "int"}}
    for code, value in points.items():
        assert decoded[code] == value, f"code 0x{code:02x}"
    reference = g711_reference(kind)
    if reference is not None:
        np.testing.assert_array_equal(decoded, reference)


def test_streamed_file_with_unknown_size_is_read_to_the_end(
    write_file: WriteFile, tmp_path: Path
) -> None:
    values = np.arange(-50, 50, dtype=np.int16).reshape(-1, 1)
    data = wav_bytes(values.tobytes(), channels=1, rate=100, bits=16, data_size=0xFFFFFFFF)
    check_capture(write_file("stream.wav", data), tmp_path, values, 100)


def test_many_blocks(
    write_file: WriteFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_wav, "SAMPLES_PER_BLOCK", 1000)
    monkeypatch.setattr(columnar, "BATCH_ROWS", 3000)
    values = (RNG.normal(size=(10_001, 2)) * 100 + 20_000).astype(np.int16)
    data = wav_bytes(values.tobytes(), channels=2, rate=2000, bits=16)
    check_capture(write_file("long.wav", data), tmp_path, values, 2000)
    # Blocks of 500 frames are regrouped into batches of BATCH_ROWS rows, the last shorter,
    # as the schema metadata tells readers.
    copy = read_columnar(tmp_path / "out.arrow")
    assert [batch.num_rows for batch in copy.to_batches()] == [3000, 3000, 3000, 1001]
    assert copy.schema.metadata[b"capturehub.batch_rows"] == b"3000"


SCIPY_READABLE = {
    # file: how scipy's (left-justified) values map to the stored ones
    "test-44100Hz-le-1ch-4bytes.wav": 0,
    "test-44100Hz-be-1ch-4bytes.wav": 0,
    "test-44100Hz-le-1ch-4bytes-rf64.wav": 0,
    "test-44100Hz-2ch-32bit-float-le.wav": 0,
    "test-44100Hz-2ch-32bit-float-be.wav": 0,
    "test-48000Hz-2ch-64bit-float-le-wavex.wav": 0,
    "test-8000Hz-le-2ch-1byteu.wav": 0,
    "test-8000Hz-le-3ch-5S-24bit.wav": 8,
    "test-8000Hz-be-3ch-5S-24bit.wav": 8,
    "test-8000Hz-le-3ch-5S-24bit-rf64.wav": 8,
    "test-1234Hz-le-1ch-10S-20bit-extra.wav": 8,
    "test-8000Hz-le-3ch-5S-64bit.wav": 0,
    "test-8000Hz-le-4ch-9S-12bit.wav": 0,
    "test-8000Hz-le-5ch-9S-5bit.wav": 0,
}


@pytest.mark.parametrize("name", list(SCIPY_READABLE))
def test_scipy_sample_files(tmp_path: Path, name: str) -> None:
    path = SCIPY_DATA / name
    assert path.exists(), f"SciPy's test data is expected at {path}"
    with warnings.catch_warnings():  # scipy warns about chunks it skips (PEAK)
        warnings.simplefilter("ignore", scipy.io.wavfile.WavFileWarning)
        rate, expected = scipy.io.wavfile.read(path)
    expected = expected.reshape(len(expected), -1)
    if SCIPY_READABLE[name]:  # scipy shifts 24-bit containers into the top of an int32
        expected = expected >> SCIPY_READABLE[name]
    check_capture(path, tmp_path, expected.astype(expected.dtype.newbyteorder("=")), rate)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("test-44100Hz-le-1ch-4bytes-early-eof.wav", ["truncated", "17640 bytes", "944"]),
        ("test-44100Hz-le-1ch-4bytes-early-eof-no-data.wav", ["truncated", '"data"']),
        ("test-44100Hz-le-1ch-4bytes-incomplete-chunk.wav", ["truncated"]),
        ("test-8000Hz-le-3ch-5S-24bit-inconsistent.wav", ["inconsistent", "3 channels"]),
        ("test-8000Hz-le-3ch-5S-36bit.wav", ["40 bits", "8/16/24/32/64-bit"]),
        ("test-8000Hz-le-3ch-5S-53bit.wav", ["56 bits"]),
    ],
)
def test_scipy_damaged_files(name: str, words: list[str]) -> None:
    with pytest.raises(IngestError) as caught:
        measure(SCIPY_DATA / name, ".wav")
    for word in words:
        assert word in str(caught.value), str(caught.value)


def pcm16(frames: int = 10, **overrides: int) -> bytes:
    options = {"channels": 1, "rate": 8000, "bits": 16, **overrides}
    return wav_bytes(bytes(2 * frames * options["channels"]), **options)


def fmt_patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """``data`` with one field of the fmt chunk (offset from the chunk body) overwritten."""
    body = data.index(b"fmt ") + 8
    return (
        data[: body + offset]
        + struct.pack(fmt, value)
        + data[body + offset + struct.calcsize(fmt) :]
    )


REFUSED = {
    "empty": (b"", ["empty"]),
    "csv named wav": (
        b"AccelerometerX,AccelerometerY\n0.93,0.24\n",
        ["not a RIFF/WAVE file", "AccelerometerX", ".csv"],
    ),
    "random bytes": (bytes(range(256)) * 4, ["not a RIFF/WAVE file"]),
    "avi": (b"RIFF\x10\x00\x00\x00AVI LIST" + bytes(8), ["not a RIFF/WAVE file", "AVI"]),
    "truncated in the magic": (b"RIFF\x10\x00", ["truncated"]),
    "truncated header": (pcm16()[:30], ["truncated"]),
    "truncated data": (pcm16(1000)[:-100], ["truncated", "2000 bytes", "1900"]),
    "no samples": (pcm16(0), ["no samples"]),
    "zero channels": (fmt_patched(pcm16(), 2, "<H", 0), ["0 channels"]),
    "zero hertz": (fmt_patched(pcm16(), 4, "<I", 0), ["0 Hz"]),
    "partial frame": (
        wav_bytes(bytes(7), channels=2, rate=8000, bits=16),
        ["whole number", "4-byte frames"],
    ),
    "ima adpcm": (
        wav_bytes(bytes(256), channels=1, rate=8000, bits=4, tag=0x11, block_align=256),
        ["IMA ADPCM", "0x0011", "PCM"],
    ),
    "ms adpcm": (
        wav_bytes(bytes(256), channels=1, rate=8000, bits=4, tag=0x02, block_align=256),
        ["Microsoft ADPCM"],
    ),
    "mp3 in extensible": (
        wav_bytes(bytes(64), channels=1, rate=8000, bits=16, tag=0x55, extensible=True),
        ["MP3"],
    ),
    "unknown tag": (
        wav_bytes(bytes(64), channels=1, rate=8000, bits=16, tag=0x1234),
        ["unknown encoding", "0x1234"],
    ),
    "12-bit float": (wav_bytes(bytes(64), channels=1, rate=8000, bits=12, tag=3), ["FLOAT"]),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refusals(write_file: WriteFile, tmp_path: Path, name: str) -> None:
    data, words = REFUSED[name]
    out = tmp_path / "out.arrow"
    with pytest.raises(IngestError) as caught:
        measure(write_file("bad.wav", data), ".wav", out)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert not out.exists()
