"""The one error a move stops with: a sentence that says what to do."""

from __future__ import annotations

from sqlalchemy.engine import make_url


class MoveError(Exception):
    """The move cannot go on; the message says why and what to do."""


def shown(url: str) -> str:
    """A database URL as it may be printed (no password)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: say so as given
        return url
