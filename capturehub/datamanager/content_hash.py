"""The content hash of a dataset version, computed the same way by the server and by anyone
holding the version's listing (``version.json`` of a version export).

Each capture of the version has a *digest*: the SHA-256 (hex) of its metadata and segment
lines::

    M<TAB>metadata key<TAB>value
    S<TAB>label<TAB>value<TAB>start<TAB>end

sorted and concatenated (the SHA-256 of no bytes for a capture without any). The hash is the
SHA-256 (hex) of one line per capture::

    C<TAB>capture name<TAB>sha256 of the original file<TAB>digest

sorted and concatenated. Text fields are escaped (``\\`` → ``\\\\``, TAB → ``\\t``, LF →
``\\n``, CR → ``\\r``), numbers written in decimal, every line ends with LF; lines are sorted
by Unicode code point (the order of their UTF-8 bytes, LF included) and encoded as UTF-8. The
listing holds what the data is (the file's bytes through its sha256, the metadata, the
segments), not where it is stored: two versions of the same data have the same hash, whatever
their capture ids or storage keys, on SQLite and PostgreSQL alike. The columnar copy is made
from the original file, so the original's sha256 stands for it too.

Two levels rather than one listing of every row: the server keeps each capture's digest (a
diff compares them), so the hash is one sorted line per capture instead of a sort of every
metadata value and segment of the version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

# Each escaped character and how it is written, the backslash first (the server escapes in SQL
# with one replace() after another, in this order).
ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
_ESCAPES = str.maketrans(dict(ESCAPES))


def escape(text: str) -> str:
    """A text field of the listing."""
    return text.translate(_ESCAPES)


def hash_of_lines(lines: list[str]) -> str:
    """The SHA-256 (hex) of listing lines (escaped, each ending with LF), in any order."""
    lines.sort()
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def digest_of_rows(rows: str) -> str:
    """The digest of a capture from its metadata and segment lines concatenated in any order
    (each ending with LF): the server hands them over so, one capture at a time."""
    lines = rows.split("\n")
    lines.pop()  # after the last LF
    return hash_of_lines([line + "\n" for line in lines])


def capture_digest(capture: Mapping[str, Any]) -> str:
    """The digest of a capture as the listing holds it: ``metadata`` ({key: value}) and
    ``segments`` ([{label, value, start, end}])."""
    lines = [
        f"M\t{escape(str(key))}\t{escape(str(value))}\n"
        for key, value in (capture.get("metadata") or {}).items()
    ]
    lines.extend(
        f"S\t{escape(str(segment['label']))}\t{escape(str(segment['value']))}"
        f"\t{int(segment['start'])}\t{int(segment['end'])}\n"
        for segment in capture.get("segments") or ()
    )
    return hash_of_lines(lines)


def hash_of_listing(captures: Sequence[Mapping[str, Any]]) -> str:
    """The hash of a version's listing as ``version.json`` (and the version capture list)
    holds it: each capture a mapping with ``name``, ``sha256``, ``metadata`` ({key: value})
    and ``segments`` ([{label, value, start, end}])."""
    return hash_of_lines(
        [
            f"C\t{escape(str(capture['name']))}\t{capture['sha256']}\t{capture_digest(capture)}\n"
            for capture in captures
        ]
    )
