"""The capture file formats capturehub reads: one entry per format, used everywhere.

The server's upload check, the capture list's ``format`` filter, OpenAPI's enum, the download
``Content-Type``, the CLI's folder walk and the SDK's upload ``Content-Type`` all read this
table, so a new format (say Edge Impulse's JSON) is one more ``FileFormat`` here and a reader.

Importing this module is cheap on purpose (no pyarrow, no numpy): the SDK and the CLI use it to
pick files and content types. A format's reader is imported only when a file is measured.

Sniffing: ``sniff`` names the format a file's first bytes look like, so a file uploaded under
the wrong suffix is told which name to give it instead of getting a parser's error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from capturehub.ingest.measurement import Measurement

Reader = Callable[[Path, Path | None], "Measurement"]
"""``reader(source, columnar_out)``: measure a file and write its columnar copy (when given)."""


@dataclass(frozen=True)
class FileFormat:
    """One file format.

    ``suffixes[0]`` is the capture's ``format`` as stored and sent on the wire (``".csv"``);
    every suffix is matched ignoring case. ``media_types[0]`` is the one we send (SDK uploads,
    downloads with ``charset`` for text); the others are accepted aliases. ``looks_like`` tells
    from a file's first bytes whether it could be this format. ``load_reader`` imports the
    reader (kept out of import time: readers need pyarrow and numpy).
    """

    label: str
    description: str
    suffixes: tuple[str, ...]
    media_types: tuple[str, ...]
    charset: str | None
    looks_like: Callable[[bytes], bool]
    load_reader: Callable[[], Reader]
    # A folder walk takes a file of this suffix only if its first bytes look like the format
    # (".json" names many files that are no recording: manifests, settings).
    walk_checks_content: bool = False
    # Suffixes served with a type of their own (a .cbor document is not application/json).
    suffix_media_types: tuple[tuple[str, str], ...] = ()

    @property
    def suffix(self) -> str:
        return self.suffixes[0]

    @property
    def media_type(self) -> str:
        return self.media_types[0]

    @property
    def download_media_type(self) -> str:
        """The ``Content-Type`` a stored file of this format is served with."""
        if self.charset is None:
            return self.media_type
        return f"{self.media_type}; charset={self.charset}"

    def download_media_type_for(self, suffix: str) -> str:
        """The ``Content-Type`` of a stored file of this format with this suffix."""
        wanted = suffix.lower()
        for known, media_type in self.suffix_media_types:
            if known == wanted:
                return media_type
        return self.download_media_type

    @property
    def is_text(self) -> bool:
        return self.charset is not None

    def read(self, source: Path, columnar_out: Path | None = None) -> Measurement:
        return self.load_reader()(source, columnar_out)


def _is_wav(head: bytes) -> bool:
    return len(head) >= 12 and head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE"


def _is_text(head: bytes) -> bool:
    """UTF-8 text of printable characters and white space (the start of a CSV, for one)."""
    text = head.decode("utf-8", "replace")
    if not head or "\ufffd" in text:
        return False
    return "".join(text.split()).isprintable()


def _is_acquisition(head: bytes) -> bool:
    from capturehub.ingest.acquisition import looks_like_document

    return looks_like_document(head)


def _acquisition_reader() -> Reader:
    from capturehub.ingest.acquisition import measure_acquisition

    return measure_acquisition


def _csv_reader() -> Reader:
    from capturehub.ingest.csvfile import measure_csv

    return measure_csv


def _wav_reader() -> Reader:
    from capturehub.ingest.wavfile import measure_wav

    return measure_wav


CSV = FileFormat(
    label="CSV",
    description="a CSV file",
    suffixes=(".csv",),
    media_types=("text/csv", "application/csv"),
    charset="utf-8",
    looks_like=_is_text,
    load_reader=_csv_reader,
)
WAV = FileFormat(
    label="WAV",
    description="a WAV audio file",
    suffixes=(".wav",),
    media_types=("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"),
    charset=None,
    looks_like=_is_wav,
    load_reader=_wav_reader,
)

# Edge Impulse's data acquisition document, in JSON or CBOR (one reader tells them apart by
# the first byte; see capturehub/ingest/acquisition.py). Sniffed as binary: it is told by its
# shape (an object with a payload), before CSV's "is it text".
ACQUISITION = FileFormat(
    label="Edge Impulse acquisition",
    description="an Edge Impulse data acquisition document (JSON or CBOR)",
    suffixes=(".json", ".cbor"),
    media_types=("application/json", "application/cbor"),
    charset=None,
    looks_like=_is_acquisition,
    load_reader=_acquisition_reader,
    walk_checks_content=True,
    suffix_media_types=((".cbor", "application/cbor"),),
)

# The order is the order users read them in (".csv or .wav"). A text format with a stricter
# test than CSV's "is it text" must come before CSV, as ``sniff`` tries text formats in order.
FORMATS: tuple[FileFormat, ...] = (CSV, WAV, ACQUISITION)


def suffixes() -> tuple[str, ...]:
    """Every capture suffix, lower case with the dot: ``(".csv", ".wav")``."""
    return tuple(suffix for file_format in FORMATS for suffix in file_format.suffixes)


def suffixes_text(joiner: str = "or") -> str:
    """The suffixes for a message: ``".csv or .wav"`` (``".csv, .wav or .json"``)."""
    names = list(suffixes())
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} {joiner} {names[-1]}"


def by_suffix(suffix: str) -> FileFormat | None:
    """The format of a suffix: ``".CSV"``, ``"csv"`` and ``".csv"`` all name CSV."""
    wanted = "." + suffix.strip().lower().lstrip(".")
    for file_format in FORMATS:
        if wanted in file_format.suffixes:
            return file_format
    return None


def by_filename(name: str) -> FileFormat | None:
    """The format a file name ends in (any case), or None."""
    lowered = name.lower()
    for file_format in FORMATS:
        if lowered.endswith(file_format.suffixes):
            return file_format
    return None


def is_recording(path: Path) -> bool:
    """Whether a folder walk takes this file: its suffix is a format's (and, for formats with
    ``walk_checks_content``, its first bytes look like it)."""
    file_format = by_filename(path.name)
    if file_format is None:
        return False
    if not file_format.walk_checks_content:
        return True
    try:
        with open(path, "rb") as file:
            return file_format.looks_like(file.read(4096))
    except OSError:
        return False


def by_media_type(media_type: str) -> FileFormat | None:
    """The format of a ``Content-Type`` (parameters such as ``charset`` are ignored)."""
    wanted = media_type.split(";", 1)[0].strip().lower()
    for file_format in FORMATS:
        if wanted in file_format.media_types:
            return file_format
    return None


def sniff(head: bytes) -> FileFormat | None:
    """The format a file's first bytes look like: binary signatures first, then text."""
    ordered = sorted(FORMATS, key=lambda file_format: file_format.is_text)
    for file_format in ordered:
        if file_format.looks_like(head):
            return file_format
    return None
