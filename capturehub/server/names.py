"""The one rule for names users give things (projects, captures, labels, metadata keys).

Names are free text and are never used to build a file path or storage key, so ``/``, ``\\``,
``..`` and any Unicode are stored as given. Refused: empty or blank names, control characters
(NUL included: PostgreSQL cannot store it, and it hides text in terminals), lone surrogates,
and names longer than :data:`MAX_NAME_LENGTH` characters or :data:`MAX_NAME_BYTES` bytes.
"""

from __future__ import annotations

import unicodedata

from capturehub.server.errors import BadRequest

MAX_NAME_LENGTH = 1000
# PostgreSQL refuses index entries over about 2,700 bytes; 1,000 characters of 4 UTF-8 bytes
# each would exceed it, so the length is also bounded in bytes.
MAX_NAME_BYTES = 2000


def validate_name(value: str, *, what: str, field: str = "name") -> str:
    if not value or not value.strip():
        raise BadRequest(f"The {what} name cannot be empty.", data={field: ["may not be blank"]})
    if len(value) > MAX_NAME_LENGTH:
        message = (
            f"The {what} name is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}."
        )
        raise BadRequest(message, data={field: [message]})
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        message = f"The {what} name contains a lone surrogate, which is not a character."
        raise BadRequest(message, data={field: [message]}) from None
    if size > MAX_NAME_BYTES:
        message = f"The {what} name takes {size} bytes in UTF-8; the limit is {MAX_NAME_BYTES}."
        raise BadRequest(message, data={field: [message]})
    for position, char in enumerate(value):
        if unicodedata.category(char) == "Cc":
            message = (
                f"The {what} name contains the control character U+{ord(char):04X} at "
                f"position {position + 1}; remove it."
            )
            raise BadRequest(message, data={field: [message]})
    return value
