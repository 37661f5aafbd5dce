"""The content hash of a dataset version, computed the same way by the server and by anyone
holding the version's listing (``version.json`` of a version export).

The hash is the SHA-256 (hex) of a canonical listing: one line per capture, per metadata value
and per segment of the version::

    C<TAB>capture name<TAB>sha256 of the original file
    M<TAB>capture name<TAB>metadata key<TAB>value
    S<TAB>capture name<TAB>label<TAB>value<TAB>start<TAB>end

Text fields are escaped (``\\`` → ``\\\\``, TAB → ``\\t``, LF → ``\\n``, CR → ``\\r``), numbers
written in decimal, every line ends with LF. The lines are sorted by Unicode code point (the
order of their UTF-8 bytes), concatenated and encoded as UTF-8. The listing holds what the data
is (the file's bytes through its sha256, the metadata, the segments), not where it is stored:
two versions of the same data have the same hash, whatever their capture ids or storage keys,
on SQLite and PostgreSQL alike. The columnar copy is made from the original file, so the
original's sha256 stands for it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Each escaped character and how it is written, the backslash first (the server escapes in SQL
# with one replace() after another, in this order).
ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
_ESCAPES = str.maketrans(dict(ESCAPES))


def escape(text: str) -> str:
    """A text field of the listing."""
    return text.translate(_ESCAPES)


def capture_line(name: str, sha256: str) -> str:
    return f"C\t{name}\t{sha256}\n"


def hash_of_lines(lines: list[str]) -> str:
    """The hash of listing lines (escaped, each ending with LF), in any order."""
    lines.sort()
    digest = hashlib.sha256()
    digest.update("".join(lines).encode("utf-8"))
    return digest.hexdigest()


def hash_of_listing(captures: Sequence[Mapping[str, Any]]) -> str:
    """The hash of a version's listing as ``version.json`` (and the version capture list)
    holds it: each capture a mapping with ``name``, ``sha256``, ``metadata`` ({key: value})
    and ``segments`` ([{label, value, start, end}])."""
    lines: list[str] = []
    for capture in captures:
        name = escape(str(capture["name"]))
        lines.append(capture_line(name, str(capture["sha256"])))
        for key, value in (capture.get("metadata") or {}).items():
            lines.append(f"M\t{name}\t{escape(str(key))}\t{escape(str(value))}\n")
        for segment in capture.get("segments") or ():
            lines.append(
                f"S\t{name}\t{escape(str(segment['label']))}\t{escape(str(segment['value']))}"
                f"\t{int(segment['start'])}\t{int(segment['end'])}\n"
            )
    return hash_of_lines(lines)


def metadata_lines(rows: Iterable[tuple[str, str]], name: str) -> list[str]:
    """The metadata lines of one capture (``name`` already escaped): (key, value) pairs."""
    return [f"M\t{name}\t{escape(key)}\t{escape(value)}\n" for key, value in rows]
