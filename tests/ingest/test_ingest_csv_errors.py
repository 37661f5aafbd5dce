"""CSV files capturehub refuses, and the message a person gets for each.

Every case must raise IngestError (never another exception type) whose text says what is
wrong, where (1-based file line, header = line 1, and the column's name) and what was expected.
"""

from __future__ import annotations

import gzip
import pickle
import random
from collections.abc import Callable
from pathlib import Path

import pytest

import capturehub.ingest.csvfile as ingest_csv
from capturehub.ingest import IngestError, measure

WriteFile = Callable[[str, bytes], Path]


def refusal(path: Path, fmt: str = ".csv") -> IngestError:
    with pytest.raises(IngestError) as caught:
        measure(path, fmt)
    return caught.value


# (file bytes, words the message must contain, line, column)
CASES: dict[str, tuple[bytes, list[str], int | None, str | None]] = {
    "empty": (b"", ["empty"], None, None),
    "blank lines only": (b"\n \r\n", ["empty"], None, None),
    "header only": (b"a,b\n", ["header", "no data rows"], None, None),
    "header and blank lines": (b"a,b\r\n\r\n", ["no data rows"], None, None),
    "ragged row": (
        b"a,b\n1,2\n3\n4,5\n",
        ["line 3", "has 1 field", "expected 2", "header"],
        3,
        None,
    ),
    "too many fields": (b"a,b\n1,2\n3,4,5\n", ["line 3", "3 fields", "expected 2"], 3, None),
    "non-numeric cell": (
        b"a,b\n1,2\n3,abc\n",
        ['line 3, column "b"', '"abc" is not a number'],
        3,
        "b",
    ),
    # An empty channel cell is a missing sample (test_ingest_csv_empty_cells.py); these are not.
    "cell of spaces": (b"a,b\n1,2\n3, \n", ['line 3, column "b"', "only spaces", "empty"], 3, "b"),
    "empty sequence cell": (
        b"sequence,x\n1,2\n,3\n",
        ['line 3, column "sequence"', "empty", "sample index"],
        3,
        "sequence",
    ),
    "empty timestamp cell": (
        b"timestamp,x\n0.5,1\n1.0,2\n,3\n",
        ['line 4, column "timestamp"', "empty", "time"],
        4,
        "timestamp",
    ),
    "empty first timestamp": (
        b"timestamp,x\n,1\n2024-01-01T00:00:01,2\n",
        ['line 2, column "timestamp"', "empty"],
        2,
        "timestamp",
    ),
    "column with no value": (
        b"a,b,c\n1,,\n2,,\n",
        ['column "b"', "every one of its 2 cells is empty", 'so is column "c"', "remove"],
        None,
        "b",
    ),
    "line of spaces": (b"a,b\n1,2\n   \n", ["line 3", "blank"], 3, None),
    "blank column name": (b"a,,b\n1,2,3\n", ["line 1", "column 2", "no name"], 1, None),
    "trailing delimiter in header": (b"a,b,\n1,2,\n", ["line 1", "column 3", "stray"], 1, None),
    "pandas index column": (b",a,b\n0,1,2\n", ["line 1", "column 1", "index=False"], 1, None),
    "duplicate column name": (
        b"x,y,x\n1,2,3\n",
        ["line 1", '"x" twice', "columns 1 and 3", "unique"],
        1,
        None,
    ),
    "two sequence columns": (b"sequence,SEQUENCE,x\n1,2,3\n", ["twice"], 1, None),
    "gzip": (gzip.compress(b"a,b\n1,2\n" * 50), ["not a text CSV", "gzip"], None, None),
    "xlsx": (b"PK\x03\x04" + bytes(200), ["not a text CSV", "ZIP", "xlsx"], None, None),
    "NUL bytes": (b"a,b\n1,2\n" + bytes(64), ["not a text CSV", "NUL"], None, None),
    "random bytes": (random.Random(5).randbytes(4096), ["not a text CSV"], None, None),
    "UTF-16 with BOM": ("a,b\n1,2\n".encode("utf-16"), ["UTF-16", "UTF-8"], None, None),
    "UTF-16 without BOM": ("a,b\n1,2\n".encode("utf-16-le"), ["UTF-16", "UTF-8"], None, None),
    "Latin-1 header": (
        "Température,b\n1,2\n".encode("latin-1"),
        ["line 1", "not valid UTF-8", "Latin-1", "save it as UTF-8"],
        1,
        None,
    ),
    "first line is data": (
        b"0.93,0.24,-0.25\n0.93,0.24,-0.25\n",
        ["line 1", "looks like data", "not a header"],
        1,
        None,
    ),
    "device export without header": (
        b"2019-08-06 10:25:50:000,-0.4264,0.7279\n2019-08-06 10:25:50:020,-0.4620,0.7319\n",
        ["line 1", "looks like data", "preamble"],
        1,
        None,
    ),
    "preamble before the data": (
        b"Device Type,GENEActiv\nDevice Model,1.1\nSerial,046164\n",
        ['line 2, column "Device Type"', '"Device Model" is not a number', "preamble"],
        2,
        "Device Type",
    ),
    "decimal comma after integer first row": (
        b"a;b\n1;2\n1,5;3\n",
        ['line 3, column "a"', '"1,5" is not a number', "decimal point"],
        3,
        "a",
    ),
    "time in a channel column": (
        b"time,x\n2024-01-01 10:00:00,1\n",
        ['column "time"', "not a number", '"timestamp"'],
        2,
        "time",
    ),
    "booleans": (b"a,b\n1,2\n3,true\n", ['line 3, column "b"', '"true" is not a number'], 3, "b"),
    "fractional sequence": (
        b"sequence,x\n1,1\n2.5,2\n",
        ['line 3, column "sequence"', '"2.5"', "whole number"],
        3,
        "sequence",
    ),
    "timestamp not a time": (
        b"timestamp,x\n2024-01-01T00:00:00,1\nsoon,2\n",
        ['line 3, column "timestamp"', '"soon"', "ISO 8601"],
        3,
        "timestamp",
    ),
    "timestamp offsets mixed": (
        b"timestamp,x\n2024-01-01T00:00:00Z,1\n2024-01-01T00:00:01,2\n",
        ['line 3, column "timestamp"', "UTC offset"],
        3,
        "timestamp",
    ),
    "numeric timestamp then text": (
        b"timestamp,x\n0.5,1\nlater,2\n",
        ['line 3, column "timestamp"', "not a number of seconds"],
        3,
        "timestamp",
    ),
    "no channel": (b"timestamp,sequence\n0,1\n", ["no channel"], 1, None),
    "old Mac line endings": (b"a,b\r1,2\r3,4\r", ["line 1", "carriage return"], 1, None),
    "wav named csv": (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40), ["WAV", ".wav"], None, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_refusals_say_what_and_where(write_file: WriteFile, name: str) -> None:
    data, words, line, column = CASES[name]
    error = refusal(write_file("bad.csv", data))
    message = str(error)
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"
    assert (error.line, error.column) == (line, column), message


def test_line_numbers_count_blank_lines_and_blocks(
    write_file: WriteFile, small_blocks: int
) -> None:
    rows = [f"{i},{i * 2}" for i in range(300)]
    rows[150] = ""  # a blank line is still a line of the file
    rows[240] = "240,twelve"
    error = refusal(write_file("bad.csv", ("a,b\r\n" + "\r\n".join(rows) + "\r\n").encode()))
    assert (error.line, error.column) == (242, "b")
    assert str(error) == 'line 242, column "b": "twelve" is not a number'


def test_error_in_a_later_block_with_real_block_size(write_file: WriteFile) -> None:
    good = "".join(f"{i}.5,{i}\n" for i in range(300_000))  # ~4 MB: several real blocks
    error = refusal(write_file("bad.csv", ("x,y\n" + good + "1.5\n").encode()))
    assert error.line == 300_002
    assert "line 300002" in str(error) and "1 field" in str(error)


def test_first_error_wins(write_file: WriteFile) -> None:
    error = refusal(write_file("bad.csv", b"a,b\n1,2\n3,x\n4\n"))
    assert error.line == 3


def test_a_huge_line_without_newline(write_file: WriteFile) -> None:
    limit = ingest_csv.BLOCK_BYTES
    error = refusal(write_file("bad.csv", b"a,b\n" + b"1," * limit))
    assert error.line == 2
    assert "longer than the limit" in str(error)
    error = refusal(write_file("bad.csv", b"a" * (limit + 10)))
    assert error.line == 1
    assert "longer than the limit" in str(error)


def test_a_huge_line_after_good_lines(write_file: WriteFile) -> None:
    data = b"a\n" + b"1\n" * 10 + b"2" * (ingest_csv.BLOCK_BYTES * 2)
    error = refusal(write_file("bad.csv", data))
    assert error.line == 12


def test_nul_bytes_inside_a_cell(write_file: WriteFile) -> None:
    rows = b"1,2\n" * 200
    error = refusal(write_file("bad.csv", b"a,b\n" + rows + b"3,4\x00\n"))
    assert (error.line, error.column) == (202, "b")
    assert "\\x00" in str(error)


def test_errors_survive_pickling() -> None:
    error = IngestError.at("bad", line=4, column="x")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.line, copy.column) == ('line 4, column "x": bad', 4, "x")


def test_random_damage_gives_ingest_errors_only(tmp_path: Path) -> None:
    """Flip, drop and insert bytes in a good file: the answer is a result or an IngestError."""
    good = b"timestamp,sequence,x,y\n" + b"".join(
        f"2024-01-01T00:00:{i:02d}.5,{i},{i * 0.25},{i}\n".encode() for i in range(40)
    )
    rng = random.Random(11)
    path = tmp_path / "fuzz.csv"
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(data))
            action = rng.choice(["flip", "drop", "insert"])
            if action == "flip":
                data[position] = rng.randrange(256)
            elif action == "drop":
                del data[position]
            else:
                data.insert(position, rng.choice(b',;\n\r"\x00\xff 9.-e'))
        path.write_bytes(bytes(data))
        try:
            measure(path, ".csv", tmp_path / "fuzz.arrow")
        except IngestError as error:
            assert str(error)
