"""The content hash as docs/api.md defines it ("The content hash"), recomputed here by hand
from that text, pinned on a listing with texts to escape, texts beyond ASCII, lines that sort
differently with and without their LF, and a capture without metadata or segments."""

from __future__ import annotations

import hashlib
from typing import Any

from capturehub.datamanager.content_hash import digest_of_rows, hash_of_listing

LISTING: list[dict[str, Any]] = [
    {
        "name": "b\\1.csv",
        "sha256": "ab" * 32,
        "metadata": {"Subject": "S01", "Note\\é": "a\tb"},
        "segments": [
            {"label": "Exercise", "value": "PEN", "start": 10, "end": 20},
            {"label": "Exercise", "value": "PEN", "start": 1, "end": 200},
            {"label": "Exercise", "value": "zé€𝄞", "start": 1, "end": 2},
        ],
    },
    {"name": "a.csv", "sha256": "cd" * 32, "metadata": {}, "segments": []},
]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_hash_is_the_documented_two_level_listing() -> None:
    rows = sorted(
        [
            "M\tSubject\tS01\n",
            "M\tNote\\\\é\ta\\tb\n",
            "S\tExercise\tPEN\t10\t20\n",
            "S\tExercise\tPEN\t1\t200\n",
            "S\tExercise\tzé€𝄞\t1\t2\n",
        ]
    )
    # Sorted with their LF: "...\t1\t200\n" before "...\t10\t20\n" (TAB before "0").
    assert rows.index("S\tExercise\tPEN\t1\t200\n") < rows.index("S\tExercise\tPEN\t10\t20\n")
    first = sha("".join(rows))
    empty = hashlib.sha256(b"").hexdigest()
    lines = sorted([f"C\tb\\\\1.csv\t{'ab' * 32}\t{first}\n", f"C\ta.csv\t{'cd' * 32}\t{empty}\n"])
    assert hash_of_listing(LISTING) == sha("".join(lines))
    # The server hands a capture's lines over in any order (SQLite's digest function).
    assert digest_of_rows("".join(reversed(rows))) == first
    assert digest_of_rows("") == empty
