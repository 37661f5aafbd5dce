"""Build the bad-input corpus: every file the reliability tests upload, in one folder.

Small text cases are committed in ``tests/corpus/files/`` (read them to see exactly what is
sent). Everything binary, platform-sensitive (CRLF, BOM, NUL bytes, other encodings) or large
is made here, deterministically, so no big or fragile file lives in the repository. The
expected outcome of each case is not decided here: the table in
``tests/reliability/test_corpus.py`` states it.

Run it by hand to look at the files::

    .venv/bin/python -m tests.corpus.generate /tmp/corpus

The folder then holds one file per case, named as it is uploaded (its extension decides the
format the server parses it as).
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
COMMITTED = CORPUS_DIR / "files"
REPO_ROOT = CORPUS_DIR.parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

MIB = 1 << 20
HUGE_LINE_BYTES = 100 * MIB
WIDE_COLUMNS = 10_000
DEEP_BAD_LINE = 150_000  # beyond the first parsing blocks (2 MiB each)
WIDEN_ROWS = 120_000  # integers for > 512 KiB, then one fraction: the int column must widen

# WAV sample formats (the format tag of the fmt chunk).
PCM, IEEE_FLOAT, ALAW, MULAW = 1, 3, 6, 7
MS_ADPCM, IMA_ADPCM, GSM610, MPEG_LAYER3 = 0x0002, 0x0011, 0x0031, 0x0055
EXTENSIBLE = 0xFFFE
GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

Builder = Callable[[Path], None]


# WAV pieces, written by hand so that each header field can lie on purpose -------------------


def chunk(chunk_id: bytes, body: bytes, *, declared: int | None = None) -> bytes:
    """A RIFF chunk: id, size (``declared`` overrides the true size), body, pad byte."""
    size = len(body) if declared is None else declared
    pad = b"\x00" if len(body) % 2 else b""
    return chunk_id + struct.pack("<I", size) + body + pad


def fmt_chunk(
    tag: int,
    channels: int,
    rate: int,
    bits: int,
    *,
    block_align: int | None = None,
    extra: bytes = b"",
) -> bytes:
    if block_align is None:
        block_align = channels * ((bits + 7) // 8)
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * block_align, block_align, bits)
    return chunk(b"fmt ", body + extra)


def riff(*chunks: bytes, container: bytes = b"RIFF", form: bytes = b"WAVE") -> bytes:
    payload = form + b"".join(chunks)
    return container + struct.pack("<I", len(payload)) + payload


def pcm16_frames(frames: int, channels: int = 1) -> bytes:
    rng = random.Random(frames * 31 + channels)
    values = [rng.randint(-32768, 32767) for _ in range(frames * channels)]
    return struct.pack(f"<{len(values)}h", *values)


def wav_pcm16(frames: int = 1000, channels: int = 1, rate: int = 8000) -> bytes:
    return riff(fmt_chunk(PCM, channels, rate, 16), chunk(b"data", pcm16_frames(frames, channels)))


def wav_compressed(tag: int, *, bits: int = 4, block_align: int = 256) -> bytes:
    """A well-formed header for a compressed encoding (the payload is a few dummy blocks)."""
    extra = struct.pack("<HH", 2, 505)  # cbSize, samples per block (ADPCM style)
    return riff(
        fmt_chunk(tag, 1, 8000, bits, block_align=block_align, extra=extra),
        chunk(b"fact", struct.pack("<I", 2020)),
        chunk(b"data", bytes(block_align * 4)),
    )


def wav_g711(tag: int, frames: int) -> bytes:
    rng = random.Random(tag)
    codes = bytes(rng.randrange(256) for _ in range(frames))
    return riff(fmt_chunk(tag, 1, 8000, 8, extra=struct.pack("<H", 0)), chunk(b"data", codes))


def wav_with_data_size(declared: int, frames: int = 1000) -> bytes:
    return riff(
        fmt_chunk(PCM, 1, 8000, 16), chunk(b"data", pcm16_frames(frames), declared=declared)
    )


# CSV builders ---------------------------------------------------------------------------------


def _bytes(data: bytes) -> Builder:
    def build(path: Path) -> None:
        path.write_bytes(data)

    return build


def _copy(source: Path) -> Builder:
    def build(path: Path) -> None:
        shutil.copyfile(source, path)

    return build


def _huge_line(path: Path) -> None:
    """A header, then one data line of 100 MB with no newline anywhere (written in pieces)."""
    piece = b"1.5," * (MIB // 4)
    with open(path, "wb") as out:
        out.write(b"a,b\n")
        for _ in range(HUGE_LINE_BYTES // len(piece)):
            out.write(piece)


def _long_header(path: Path) -> None:
    """A single 3 MiB line: a header without an end (longer than the parser's line limit)."""
    path.write_bytes(b",".join(b"c%d" % i for i in range(400_000))[: 3 * MIB])


def _wide(path: Path) -> None:
    names = ",".join(f"c{i}" for i in range(WIDE_COLUMNS))
    rows = [",".join(str((r * 7 + i) % 100) for i in range(WIDE_COLUMNS)) for r in range(3)]
    path.write_text(names + "\n" + "\n".join(rows) + "\n")


def _widen_later(path: Path) -> None:
    with open(path, "w") as out:
        out.write("a,b\n")
        for i in range(WIDEN_ROWS):
            out.write(f"{i},{i % 7}\n")
        out.write("1,2.5\n")


def _deep_bad_cell(path: Path) -> None:
    with open(path, "w") as out:
        out.write("x,y,z\n")
        for i in range(2, DEEP_BAD_LINE):
            out.write(f"{i}.25,{i % 13},-{i}\n")
        out.write("1,oops,3\n")
        for i in range(100):
            out.write(f"{i},1,2\n")


def _random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(1234).randbytes(64 * 1024))


def _gzip(path: Path) -> None:
    path.write_bytes(gzip.compress(b"a,b\n" + b"1,2\n" * 1000, mtime=0))


def _zip(path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    path.write_bytes(buffer.getvalue())


SMALL_TEXT = "AccelX,AccelY\n1,2\n3,4\n"

GENERATED: dict[str, Builder] = {
    # CSV ------------------------------------------------------------------------------------
    "empty.csv": _bytes(b""),
    "header_only_no_newline.csv": _bytes(b"AccelX,AccelY,AccelZ"),
    "random_bytes.csv": _random_bytes,
    "gzip_compressed.csv": _gzip,
    "zip_archive.csv": _zip,
    "pdf_document.csv": _bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
    "utf16_with_bom.csv": _bytes(SMALL_TEXT.encode("utf-16")),
    "utf16_without_bom.csv": _bytes(SMALL_TEXT.encode("utf-16-le")),
    "utf32.csv": _bytes(SMALL_TEXT.encode("utf-32")),
    "latin1_units_in_header.csv": _bytes("temp °C,accel µg\n20.5,1\n21.0,2\n".encode("latin-1")),
    "nul_in_a_cell.csv": _bytes(b"a,b\n1,2\n3,\x004\n5,6\n"),
    "nul_padding.csv": _bytes(b"a,b\n1,2\n" + b"\x00" * 4096 + b"\n3,4\n"),
    "line_100mb_no_newline.csv": _huge_line,
    "header_3mib_no_newline.csv": _long_header,
    "wide_10000_columns.csv": _wide,
    "crlf_line_endings.csv": _bytes(b"a,b\r\n1,2\r\n3,4\r\n5,6\r\n"),
    "utf8_bom.csv": _bytes(b"\xef\xbb\xbfa,b\n1,2\n3,4\n"),
    "old_mac_cr_line_endings.csv": _bytes(b"a,b\r1,2\r3,4\r"),
    "very_long_column_names.csv": _bytes(
        (",".join(ch * 5000 for ch in "xyz") + "\n1,2,3\n4,5,6\n").encode()
    ),
    "rtl_and_combining_names.csv": _bytes(
        "\u05ea\u05d0\u05d5\u05e6\u05d4,\u0627\u0644\u0633\u0631\u0639\u0629,e\u0301\u0327\n"
        "1,2,3\n4,5,6\n".encode()
    ),
    "invalid_utf8_in_a_cell.csv": _bytes(b"a,b\n1,2\n\xff\xfe,3\n"),
    "int_column_gets_a_fraction_late.csv": _widen_later,
    "bad_cell_deep_in_file.csv": _deep_bad_cell,
    "wav_bytes_named_csv.csv": _bytes(wav_pcm16(100)),
    "upper_case_extension.CSV": _bytes(b"a,b\n1,2\n3,4\n"),
    "not_csv_or_wav.txt": _bytes(b"a,b\n1,2\n"),
    "geneactiv_vendor_export.csv": _copy(SHARED_DATA / "geneactiv" / "demo_data.csv"),
    "watch_real_recording.csv": _copy(SHARED_DATA / "watch" / "captures" / "S01_0_ABD_007.csv"),
    # WAV ------------------------------------------------------------------------------------
    "empty.wav": _bytes(b""),
    "pcm16_mono.wav": _bytes(wav_pcm16(1000)),
    "pcm16_stereo.wav": _bytes(wav_pcm16(500, channels=2)),
    "pcm8_unsigned.wav": _bytes(riff(fmt_chunk(PCM, 1, 8000, 8), chunk(b"data", bytes(300)))),
    "pcm24.wav": _bytes(riff(fmt_chunk(PCM, 2, 8000, 24), chunk(b"data", bytes(6 * 250)))),
    "float32.wav": _bytes(
        riff(
            fmt_chunk(IEEE_FLOAT, 1, 8000, 32),
            chunk(b"data", struct.pack("<200f", *[i / 200 for i in range(200)])),
        )
    ),
    "mulaw.wav": _bytes(wav_g711(MULAW, 800)),
    "alaw.wav": _bytes(wav_g711(ALAW, 640)),
    "ms_adpcm.wav": _bytes(wav_compressed(MS_ADPCM)),
    "ima_adpcm.wav": _bytes(wav_compressed(IMA_ADPCM)),
    "gsm610.wav": _bytes(wav_compressed(GSM610, bits=0, block_align=65)),
    "mp3_in_wav.wav": _bytes(wav_compressed(MPEG_LAYER3, bits=0, block_align=1)),
    "truncated_in_riff_header.wav": _bytes(wav_pcm16(100)[:8]),
    "truncated_in_fmt_chunk.wav": _bytes(wav_pcm16(100)[:30]),
    "truncated_in_data.wav": _bytes(wav_pcm16(1000)[:1044]),
    "data_size_larger_than_file.wav": _bytes(wav_with_data_size(10_000_000)),
    "data_size_not_whole_frames.wav": _bytes(wav_with_data_size(1999)),
    "data_size_smaller_than_file.wav": _bytes(wav_with_data_size(600)),
    "data_size_streaming_placeholder.wav": _bytes(wav_with_data_size(0xFFFFFFFF)),
    "zero_channels.wav": _bytes(
        riff(fmt_chunk(PCM, 0, 8000, 16, block_align=2), chunk(b"data", bytes(100)))
    ),
    "zero_sample_rate.wav": _bytes(riff(fmt_chunk(PCM, 1, 0, 16), chunk(b"data", bytes(100)))),
    "empty_data_chunk.wav": _bytes(riff(fmt_chunk(PCM, 1, 8000, 16), chunk(b"data", b""))),
    "data_before_fmt.wav": _bytes(riff(chunk(b"data", bytes(100)), fmt_chunk(PCM, 1, 8000, 16))),
    "riff_avi_not_wave.wav": _bytes(riff(chunk(b"LIST", bytes(20)), form=b"AVI ")),
    "extensible_unknown_guid.wav": _bytes(
        riff(
            fmt_chunk(
                EXTENSIBLE,
                1,
                8000,
                16,
                extra=struct.pack("<HHI", 22, 16, 4) + b"\x99\x99" + GUID_TAIL,
            ),
            chunk(b"data", bytes(100)),
        )
    ),
    "extensible_pcm.wav": _bytes(
        riff(
            fmt_chunk(
                EXTENSIBLE,
                2,
                8000,
                16,
                extra=struct.pack("<HHI", 22, 16, 3) + struct.pack("<H", PCM) + GUID_TAIL,
            ),
            chunk(b"data", pcm16_frames(300, channels=2)),
        )
    ),
    "bits_larger_than_container.wav": _bytes(
        riff(fmt_chunk(PCM, 1, 8000, 24, block_align=2), chunk(b"data", bytes(100)))
    ),
    "odd_sized_chunk_before_data.wav": _bytes(
        riff(fmt_chunk(PCM, 1, 8000, 16), chunk(b"LIST", b"INFOabc"), chunk(b"data", bytes(200)))
    ),
    "fmt_chunk_size_huge.wav": _bytes(
        wav_pcm16(100)[:16] + struct.pack("<I", 0xFFFFFFF0) + wav_pcm16(100)[20:]
    ),
    "csv_text_named_wav.wav": _bytes(b"AccelX,AccelY\n1,2\n3,4\n"),
    "random_bytes.wav": _random_bytes,
    "bm003_real_recording.wav": _copy(SHARED_DATA / "audio" / "BM003.wav"),
}

# Edge-case WAVs that SciPy ships with its own tests (present wherever SciPy is installed).
SCIPY_WAVS = {
    "scipy_24bit_3ch.wav": "test-8000Hz-le-3ch-5S-24bit.wav",
    "scipy_24bit_big_endian_rifx.wav": "test-8000Hz-be-3ch-5S-24bit.wav",
    "scipy_24bit_rf64.wav": "test-8000Hz-le-3ch-5S-24bit-rf64.wav",
    "scipy_float32.wav": "test-44100Hz-2ch-32bit-float-le.wav",
    "scipy_float32_big_endian.wav": "test-44100Hz-2ch-32bit-float-be.wav",
    "scipy_float64_extensible.wav": "test-48000Hz-2ch-64bit-float-le-wavex.wav",
    "scipy_mulaw.wav": "test-8000Hz-le-1ch-1byte-ulaw.wav",
    "scipy_12bit_in_16.wav": "test-8000Hz-le-4ch-9S-12bit.wav",
    "scipy_20bit_extra_chunk.wav": "test-1234Hz-le-1ch-10S-20bit-extra.wav",
    "scipy_36bit.wav": "test-8000Hz-le-3ch-5S-36bit.wav",
    "scipy_early_eof.wav": "test-44100Hz-le-1ch-4bytes-early-eof.wav",
    "scipy_incomplete_chunk.wav": "test-44100Hz-le-1ch-4bytes-incomplete-chunk.wav",
    "scipy_inconsistent_24bit.wav": "test-8000Hz-le-3ch-5S-24bit-inconsistent.wav",
}


def scipy_wav_dir() -> Path | None:
    try:
        import scipy
    except ImportError:
        return None
    folder = Path(scipy.__file__).parent / "io" / "tests" / "data"
    return folder if folder.is_dir() else None


def case_names() -> list[str]:
    """Every case this generator can make (SciPy's ones only where SciPy ships them)."""
    committed = sorted(p.name for p in COMMITTED.iterdir() if p.is_file())
    scipy_dir = scipy_wav_dir()
    scipy_cases = [n for n, f in SCIPY_WAVS.items() if scipy_dir and (scipy_dir / f).exists()]
    return committed + list(GENERATED) + scipy_cases


def build(dest: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write the cases (all, or ``names``) into ``dest``; returns name -> file."""
    dest.mkdir(parents=True, exist_ok=True)
    scipy_dir = scipy_wav_dir()
    built: dict[str, Path] = {}
    for name in names if names is not None else case_names():
        path = dest / name
        if (COMMITTED / name).is_file():
            shutil.copyfile(COMMITTED / name, path)
        elif name in GENERATED:
            GENERATED[name](path)
        elif name in SCIPY_WAVS and scipy_dir is not None:
            shutil.copyfile(scipy_dir / SCIPY_WAVS[name], path)
        else:
            raise KeyError(f"no corpus case named {name!r}")
        built[name] = path
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="folder to write the corpus into")
    args = parser.parse_args()
    for name, path in build(args.dest).items():
        print(f"{path.stat().st_size:>12}  {name}")


if __name__ == "__main__":
    main()
