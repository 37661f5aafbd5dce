"""A first look at a CSV's opening bytes: is it text, in which encoding, and how is it laid out.

Everything that can be decided from the header line (and the first data line) is decided here,
in plain Python on at most one block of bytes, before pyarrow sees the file: pyarrow's own
errors for a gzip file, a UTF-16 export or a header with an empty name are cryptic, and the
person uploading needs to hear which of those it is.

Decisions (see docs/ingest.md):

* Text must be UTF-8 (a BOM is skipped). A header that is not UTF-8 is refused rather than
  guessed as Latin-1: the stored file is served back as ``text/csv; charset=utf-8``, so guessed
  column names would differ from what every client then reads.
* A few NUL bytes inside otherwise textual data are left to the parser (which reports the cell
  that holds them); a block with more than 1 % control bytes is binary and refused outright.
* The delimiter is whichever of ``,`` ``;`` and tab occurs most often in the header (outside
  quotes); a header with none of them is a single column.
* With ``;`` as delimiter, a first data row holding decimal commas (``1,5``) switches the whole
  file to decimal commas, the convention of the locales that use ``;``.
* Column names are kept exactly as written; ``sequence`` and ``timestamp`` are recognised
  whatever their case and surrounding spaces.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from capturehub.ingest import formats
from capturehub.ingest.errors import IngestError, show_value

UTF8_BOM = b"\xef\xbb\xbf"
SEQUENCE = "sequence"
TIMESTAMP = "timestamp"

_SAVE_AS_UTF8 = 'save it as UTF-8 (in Excel: "CSV UTF-8 (Comma delimited)")'
_MAGIC_NUMBERS: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "a gzip-compressed file: decompress it first"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one): export it as CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel .xls workbook: export it as CSV"),
    (b"\xfd7zXZ\x00", "an xz-compressed file: decompress it first"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard-compressed file: decompress it first"),
    (b"PAR1", "a Parquet file"),
    (b"ARROW1", "an Arrow IPC file"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
)
_CONTROL_BYTES = np.ones(256, dtype=bool)
_CONTROL_BYTES[0x20:0x7F] = False
_CONTROL_BYTES[0x80:] = False
_CONTROL_BYTES[[0x09, 0x0A, 0x0D]] = False
_BINARY_CONTROL_SHARE = 0.01

NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
_DECIMAL_COMMA_NUMBER = re.compile(r"\s*[-+]?\d*,\d+([eE][-+]?\d+)?\s*")
_DATE_TIME = re.compile(r"\s*\d{4}-\d{1,2}-\d{1,2}([T ].*)?")
_WITH_OFFSET = re.compile(r".*[T ]\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)\s*")


@dataclass(frozen=True)
class CsvLayout:
    """How to parse a CSV's data lines, decided from its first lines."""

    names: list[str]
    delimiter: str
    decimal_point: str
    data_offset: int  # byte offset of line 2
    sequence: int | None  # column index of the sample index, if any
    timestamp: int | None  # column index of the time column, if any
    timestamp_type: pa.DataType | None


def sniff_csv(head: bytes, *, at_eof: bool, line_limit: int) -> CsvLayout:
    """Check that ``head`` (the file's first bytes) starts a text CSV and read its layout."""
    if not head:
        raise IngestError("the file is empty: a CSV needs a header line and at least one row")
    bom = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    _refuse_non_text(head, bom)
    header_end = head.find(b"\n", bom)
    if header_end < 0:
        if not at_eof:
            raise IngestError.at(
                f"the header line is longer than the limit of {line_limit / (1 << 20):g} MiB",
                line=1,
            )
        header_end = len(head)
    header_bytes = head[bom:header_end].removesuffix(b"\r")
    header = _decode_header(header_bytes)
    if "\r" in header:
        raise IngestError.at(
            "the line holds a carriage return (\\r) inside: the file seems to use old Mac line "
            "endings; save it with LF or CRLF line endings",
            line=1,
        )
    if not header.strip():
        if at_eof and not head[header_end:].strip():
            raise IngestError("the file is empty: a CSV needs a header line and at least one row")
        raise IngestError.at(
            "the header is empty: the first line must name the columns, e.g. AccelX,AccelY",
            line=1,
        )
    delimiter = _detect_delimiter(header)
    try:
        names = next(csv.reader([header], delimiter=delimiter))
    except csv.Error as error:
        raise IngestError.at(f"the header cannot be split into columns ({error})", line=1) from None
    _check_names(names, delimiter)
    folded = [name.strip().lower() for name in names]
    first_row = _first_data_row(head, header_end + 1, delimiter)
    timestamp = folded.index(TIMESTAMP) if TIMESTAMP in folded else None
    decimal_point = "."
    if delimiter == ";" and first_row is not None:
        cells = [c for i, c in enumerate(first_row) if i != timestamp]
        if any(_DECIMAL_COMMA_NUMBER.fullmatch(cell) for cell in cells):
            decimal_point = ","
    timestamp_type = None
    if timestamp is not None:
        sample = first_row[timestamp] if first_row and len(first_row) > timestamp else ""
        timestamp_type = _timestamp_type(sample, decimal_point)
    return CsvLayout(
        names=names,
        delimiter=delimiter,
        decimal_point=decimal_point,
        data_offset=header_end + 1,
        sequence=folded.index(SEQUENCE) if SEQUENCE in folded else None,
        timestamp=timestamp,
        timestamp_type=timestamp_type,
    )


def _refuse_non_text(head: bytes, bom: int) -> None:
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise IngestError(f"the file is UTF-32 text; capturehub reads UTF-8: {_SAVE_AS_UTF8}")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_like_utf16(head[:512]):
        raise IngestError(f"the file is UTF-16 text; capturehub reads UTF-8: {_SAVE_AS_UTF8}")
    other = formats.sniff(head)
    if other is not None and other is not formats.CSV:
        raise IngestError(
            f"the file is {other.description}, not a CSV: upload it with a {other.suffix} name"
        )
    for magic, what in _MAGIC_NUMBERS:
        if head.startswith(magic):
            raise IngestError(f"the file is not a text CSV: it is {what}")
    sample = np.frombuffer(head, dtype=np.uint8)
    control = _CONTROL_BYTES[sample]
    if control.mean() > _BINARY_CONTROL_SHARE:
        offset = int(np.argmax(control))
        what = "NUL bytes" if head[offset] == 0 else f"binary data (byte 0x{head[offset]:02x})"
        raise IngestError(
            f"the file is not a text CSV: it contains {what}, first at byte offset {offset}"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head[bom:], final=False)
    except UnicodeDecodeError as error:
        if (sample >= 0x80).mean() > 0.3:
            raise IngestError(
                "the file is not a text CSV: it is binary data "
                f"(not UTF-8 text at byte offset {bom + error.start})"
            ) from None
        # A few stray bytes in a data row surface later as a bad cell, with its line.


def _looks_like_utf16(sample: bytes) -> bool:
    # ASCII text in UTF-16 without a BOM: every other byte is NUL, the rest are not.
    if len(sample) < 4:
        return False
    shares = sorted(part.count(0) / len(part) for part in (sample[0::2], sample[1::2]))
    return shares[1] > 0.4 and shares[0] < 0.1


def _decode_header(header: bytes) -> str:
    try:
        return header.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = header[error.start]
        context = header[max(error.start - 15, 0) : error.end + 15]
        raise IngestError.at(
            f"the header is not valid UTF-8 (byte 0x{bad:02x} in {show_value(context)}); it looks "
            f"like Latin-1 or Windows-1252 text: {_SAVE_AS_UTF8}",
            line=1,
        ) from None


def _detect_delimiter(header: str) -> str:
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _check_names(names: list[str], delimiter: str) -> None:
    shown = "tab" if delimiter == "\t" else f'"{delimiter}"'
    for position, name in enumerate(names, start=1):
        if not name.strip():
            hint = ""
            if position == len(names):
                hint = f" (is there a stray {shown} at the end?)"
            elif position == 1:
                hint = " (a pandas index? save with to_csv(index=False))"
            raise IngestError.at(
                f"column {position} of the header has no name{hint}; every column needs a "
                "unique name",
                line=1,
            )
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        key = name.strip().lower() if name.strip().lower() in (SEQUENCE, TIMESTAMP) else name
        if key in seen:
            raise IngestError.at(
                f'the header names column "{name}" twice (columns {seen[key]} and {position}); '
                "every column needs a unique name",
                line=1,
            )
        seen[key] = position
    looks_numeric = all(NUMBER.fullmatch(n) or _DATE_TIME.fullmatch(n) for n in names)
    counting = [n.strip() for n in names] in (
        [str(i) for i in range(len(names))],
        [str(i) for i in range(1, len(names) + 1)],
    )
    if looks_numeric and not counting:
        raise IngestError.at(
            f"the first line looks like data ({show_value(delimiter.join(names))}), not a header: "
            "line 1 must name the columns (e.g. AccelX,AccelY,AccelZ) and the data start on "
            "line 2; if the file is a device export, remove any preamble and add a header line",
            line=1,
        )


def _first_data_row(head: bytes, start: int, delimiter: str) -> list[str] | None:
    """The first non-blank line after the header, split into cells (None if none is in head)."""
    for raw in io.BytesIO(head[start:]):
        if not raw.endswith(b"\n"):
            return None  # cut by the end of the block: not a whole line
        text = raw.decode("utf-8", "replace").strip("\r\n")
        if text:
            try:
                return next(csv.reader([text], delimiter=delimiter))
            except csv.Error:
                return None  # a damaged line: the parser will report it with its line number
    return None


def _timestamp_type(sample: str, decimal_point: str) -> pa.DataType:
    if NUMBER.fullmatch(sample) or (
        decimal_point == "," and _DECIMAL_COMMA_NUMBER.fullmatch(sample)
    ):
        return pa.float64()
    if _WITH_OFFSET.fullmatch(sample):
        return pa.timestamp("ns", tz="UTC")
    return pa.timestamp("ns")
