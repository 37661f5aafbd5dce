"""What a label value may be: text that parses as its label's type, and a colour.

Values are stored as text (what the user wrote, so that ``"S01"`` stays ``"S01"``) plus, for
integer and float labels, a typed copy in ``LabelValue.number`` so that range filters
(``metadata.Age__gte=30``) compare numbers, not strings. Integer values are stored in canonical
form (``"030"`` becomes ``"30"``) so that one number has one value row.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any, Literal

from capturehub.server.errors import BadRequest

LabelType = Literal["string", "integer", "float"]
LABEL_TYPES: tuple[LabelType, ...] = ("string", "integer", "float")
NUMERIC_TYPES = ("integer", "float")
MAX_VALUE_LENGTH = 1000
# PostgreSQL refuses index entries over about 2,700 bytes (values are unique per label), and
# 1,000 characters of 4 UTF-8 bytes each exceed it: bounded in bytes too, as names are.
MAX_VALUE_BYTES = 2000

# Distinct, readable on light and dark backgrounds; a new value takes the next unused one.
PALETTE = (
    "#5B8FF9",
    "#5AD8A6",
    "#F6BD16",
    "#E8684A",
    "#6DC8EC",
    "#9270CA",
    "#FF9D4D",
    "#269A99",
    "#FF99C3",
    "#5D7092",
)

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")
_INTEGER = re.compile(r"^[+-]?\d+$")


def check_type(value: Any, *, field: str = "type") -> LabelType:
    if value not in LABEL_TYPES:
        message = f"type must be one of {', '.join(LABEL_TYPES)}, not {value!r}."
        raise BadRequest(message, data={field: [message]})
    result: LabelType = value
    return result


def parse_value(
    raw: Any, label_type: str, *, label_name: str, field: str = "value"
) -> tuple[str, float | None]:
    """The stored text and number of ``raw`` for a label of ``label_type``, or a 400 saying why."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        message = f"A value of {label_name!r} must be a string or a number, not {raw!r}."
        raise BadRequest(message, data={field: [message]})
    if label_type == "string":
        # Stored exactly as given (leading/trailing spaces included): a value is a name the
        # user chose, and silently changing it breaks round trips. Blank ones are refused.
        if isinstance(raw, str):
            if raw and not raw.strip():
                message = f"A value of {label_name!r} cannot be empty or only whitespace."
                raise BadRequest(message, data={field: [message]})
            return _check_text(raw, label_name=label_name, field=field), None
        return _check_text(repr(raw), label_name=label_name, field=field), None
    # Numbers are parsed tolerantly: surrounding spaces do not change which number it is.
    text = raw.strip() if isinstance(raw, str) else repr(raw)
    if label_type == "integer":
        if isinstance(raw, float) and raw.is_integer():
            number = int(raw)
        elif isinstance(raw, int) or _INTEGER.match(text):
            number = int(text) if isinstance(raw, str) else int(raw)
        else:
            message = f"{label_name!r} holds integers; {raw!r} is not a whole number."
            raise BadRequest(message, data={field: [message]})
        return str(number), float(number)
    try:
        number_f = float(text)
    except ValueError:
        message = f"{label_name!r} holds floats; {raw!r} is not a number."
        raise BadRequest(message, data={field: [message]}) from None
    if not math.isfinite(number_f):
        message = f"{label_name!r} holds floats; {raw!r} is not a finite number."
        raise BadRequest(message, data={field: [message]})
    return _check_text(text, label_name=label_name, field=field), number_f


def parse_number(raw: str, label_type: str, *, label_name: str, field: str) -> float:
    """A filter's bound or compared value for a numeric label: any finite number (``30.5`` is a
    sensible bound for an integer key; ``30.0`` equals ``30``), else a 400."""
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        message = f"{label_name!r} holds {label_type}s; {raw!r} is not a number."
        raise BadRequest(message, data={field: [message]})
    return number


def _check_text(text: str, *, label_name: str, field: str) -> str:
    if not text:
        message = f"A value of {label_name!r} cannot be empty."
        raise BadRequest(message, data={field: [message]})
    if len(text) > MAX_VALUE_LENGTH:
        message = (
            f"A value of {label_name!r} is {len(text)} characters long; "
            f"the limit is {MAX_VALUE_LENGTH}."
        )
        raise BadRequest(message, data={field: [message]})
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_VALUE_BYTES:
        message = (
            f"A value of {label_name!r} takes {size} bytes in UTF-8; "
            f"the limit is {MAX_VALUE_BYTES}."
        )
        raise BadRequest(message, data={field: [message]})
    for position, char in enumerate(text):
        if unicodedata.category(char) == "Cc":
            message = (
                f"A value of {label_name!r} contains the control character U+{ord(char):04X} "
                f"at position {position + 1}; remove it."
            )
            raise BadRequest(message, data={field: [message]})
    return text


def check_color(value: Any, *, field: str = "color") -> str:
    if not isinstance(value, str) or not _COLOR.match(value):
        message = f"color must look like #RRGGBB or #RRGGBBAA (hexadecimal), not {value!r}."
        raise BadRequest(message, data={field: [message]})
    return value.upper()


def palette_color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]
