"""The one exception ingest raises for a file it cannot process.

The server stores ``str(err)`` as the capture's ``task_result`` (or answers it as a 400), so the
message itself must tell a person what is wrong, where, and what was expected; ``line`` and
``column`` repeat the location for programs. Every foreign error (pyarrow, numpy, struct, OS) is
translated into this type at the edge of the package, so callers need one ``except`` only.
"""

from __future__ import annotations

from typing import Any


class IngestError(Exception):
    """A file that cannot be processed.

    ``message`` is the complete text (it already names the line and column where there is
    one); ``line`` is a 1-based file line number counting the header as line 1, and ``column``
    the column's name, each ``None`` when it does not apply.
    """

    message: str
    line: int | None
    column: str | None

    def __init__(self, message: str, line: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    @classmethod
    def at(cls, what: str, *, line: int | None = None, column: str | None = None) -> IngestError:
        """Build an error whose message starts with its location, e.g. ``line 7, column "x": …``."""
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f'column "{column}"')
        message = f"{', '.join(where)}: {what}" if where else what
        return cls(message, line, column)

    def __str__(self) -> str:
        return self.message

    # A job queue (Celery) pickles exceptions; the default reduce would lose line and column.
    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.line, self.column))


def show_value(raw: str | bytes, limit: int = 40) -> str:
    """Quote a cell for a message: short, one line, undecodable bytes made visible."""
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f'"{text}"'
