"""The one table of file formats: every user of a format list reads it, and nothing else.

A format added to ``capturehub.ingest.formats.FORMATS`` (here a made-up ``.tsvx`` one) must be
accepted by the server's upload check and list filter, found by the CLI's folder walk, sent by
the SDK with its media type, served back with its media type and measured by its reader,
without touching any other module.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from capturehub.cli.errors import CliError
from capturehub.cli.uploading import collect_files
from capturehub.datamanager.capture import _upload_of
from capturehub.ingest import IngestError, Measurement, formats, measure
from capturehub.server.captures.download import media_type_of
from capturehub.server.captures.schemas import format_of
from capturehub.server.errors import BadRequest
from tests.ingest.ingest_helpers import wav_bytes

MADE_UP_MEASUREMENT = Measurement(
    number_samples=3,
    max_sequence=2,
    schema={"x": {"type": "int"}},
    calculated_sample_rate=None,
    header_sample_rate=None,
)


def _made_up_reader(source: Path, columnar_out: Path | None) -> Measurement:
    assert source.read_bytes() == b"made up"
    return MADE_UP_MEASUREMENT


MADE_UP = formats.FileFormat(
    label="TSVX",
    description="a made-up file",
    suffixes=(".tsvx", ".tsvx2"),
    media_types=("application/x-made-up", "text/x-made-up"),
    charset=None,
    looks_like=lambda head: head.startswith(b"made up"),
    load_reader=lambda: _made_up_reader,
)


@pytest.fixture
def with_made_up_format(monkeypatch: pytest.MonkeyPatch) -> formats.FileFormat:
    monkeypatch.setattr(formats, "FORMATS", (*formats.FORMATS, MADE_UP))
    return MADE_UP


@pytest.mark.parametrize("file_format", formats.FORMATS, ids=lambda f: f.label)
def test_every_suffix_and_media_type_leads_back_to_its_format(
    file_format: formats.FileFormat,
) -> None:
    for suffix in file_format.suffixes:
        assert suffix == suffix.lower() and suffix.startswith(".")
        assert formats.by_suffix(suffix) is file_format
        assert formats.by_suffix(suffix.upper()) is file_format
        assert formats.by_suffix(suffix.lstrip(".")) is file_format
        assert formats.by_filename(f"walk 1{suffix.upper()}") is file_format
        assert format_of(f"walk 1{suffix}") == file_format.suffix
    for media_type in file_format.media_types:
        assert formats.by_media_type(media_type) is file_format
        assert formats.by_media_type(media_type.upper() + "; charset=utf-8") is file_format
    assert formats.by_media_type(file_format.download_media_type) is file_format
    assert media_type_of(file_format.suffix) == file_format.download_media_type


def test_suffixes_and_media_types_belong_to_one_format_each() -> None:
    every_suffix = [s for f in formats.FORMATS for s in f.suffixes]
    every_media_type = [m for f in formats.FORMATS for m in f.media_types]
    assert len(every_suffix) == len(set(every_suffix))
    assert len(every_media_type) == len(set(every_media_type))
    assert formats.suffixes() == (".csv", ".wav", ".json", ".cbor")
    assert formats.suffixes_text() == ".csv, .wav, .json or .cbor"


def test_what_is_sent_and_served(tmp_path: Path) -> None:
    assert media_type_of(".json") == "application/json"
    assert media_type_of(".cbor") == "application/cbor"
    assert formats.CSV.download_media_type == "text/csv; charset=utf-8"
    assert formats.WAV.download_media_type == "audio/wav"
    assert media_type_of(".xyz") == "application/octet-stream"
    for name, content_type in [
        ("a.csv", "text/csv"),
        ("B.WAV", "audio/wav"),
        ("c.txt", "application/octet-stream"),
    ]:
        (tmp_path / name).write_bytes(b"1")
        assert _upload_of(tmp_path / name).content_type == content_type


def test_sniffing_names_the_format_of_the_first_bytes() -> None:
    wav = wav_bytes(bytes(8), channels=1, rate=8000, bits=16)
    assert formats.sniff(wav) is formats.WAV
    assert formats.sniff(b"AccelX,AccelY\r\n1,2\n") is formats.CSV
    assert formats.sniff(bytes(range(256))) is None
    assert formats.sniff(b"") is None


def test_unknown_suffixes_get_the_existing_errors(tmp_path: Path) -> None:
    path = tmp_path / "walk.txt"
    path.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(IngestError) as measured:
        measure(path, ".txt")
    assert str(measured.value) == (
        'unsupported format ".txt": expected ".csv" or ".wav" or ".json" or ".cbor"'
    )
    with pytest.raises(BadRequest) as refused:
        format_of("walk.txt")
    assert refused.value.message == (
        "Cannot tell the format of 'walk.txt': the file name must end in .csv, .wav, .json "
        "or .cbor."
    )
    assert refused.value.data == {"file": ["expected a .csv, .wav, .json or .cbor file"]}
    with pytest.raises(CliError) as walked:
        collect_files([tmp_path])
    assert walked.value.message == f"no .csv, .wav, .json or .cbor files in {tmp_path}"


def test_a_new_format_is_one_entry(with_made_up_format: formats.FileFormat, tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name in ("a.tsvx", "b.TSVX2", "c.csv", "d.txt"):
        (folder / name).write_bytes(b"made up")
    assert sorted(f.name for f in collect_files([folder])) == ["a.tsvx", "b.TSVX2", "c.csv"]
    assert format_of("b.TSVX2") == ".tsvx"
    assert format_of("upload.bin", "walk.tsvx") == ".tsvx"
    assert _upload_of(folder / "a.tsvx").content_type == "application/x-made-up"
    assert media_type_of(".tsvx") == "application/x-made-up"
    assert measure(folder / "a.tsvx", "TSVX2") is MADE_UP_MEASUREMENT
    assert formats.sniff(b"made up, really") is MADE_UP
    assert formats.suffixes_text() == ".csv, .wav, .json, .cbor, .tsvx or .tsvx2"
    expected = r"end in \.csv, \.wav, \.json, \.cbor, \.tsvx or \.tsvx2\."
    with pytest.raises(BadRequest, match=expected):
        format_of("walk.txt")


def test_a_wav_named_csv_is_told_its_suffix(tmp_path: Path) -> None:
    path = tmp_path / "walk.csv"
    path.write_bytes(wav_bytes(bytes(8), channels=1, rate=8000, bits=16))
    with pytest.raises(IngestError, match=r"a WAV audio file, not a CSV: upload it with a \.wav"):
        measure(path, ".csv")


def test_importing_the_table_loads_no_reader() -> None:
    """The SDK and the CLI import the table; pyarrow and numpy wait for the first measure."""
    code = (
        "import sys, capturehub.ingest.formats; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyarrow', 'numpy', 'pandas'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_folder_walk_takes_acquisition_documents_but_not_other_json(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"files": []}')
    (tmp_path / "wave.01.json").write_text(
        '{"protected": {"ver": "v1", "alg": "none"}, "signature": null, "payload": '
        '{"device_type": "X", "interval_ms": 10, "sensors": [{"name": "a", "units": "g"}], '
        '"values": [1, 2]}}'
    )
    assert [f.name for f in collect_files([tmp_path])] == ["wave.01.json"]
