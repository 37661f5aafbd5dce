"""Segment labels and metadata keys: what a project's segments and metadata may say.

The server keeps both in one shape (wire-api §6): a name, a ``type`` (``string``, ``integer``
or ``float``), whether it is a dropdown (only its listed values may be used) and its values.
:class:`Label` is that object as the SDK answers it; the functions below read and write them
for :class:`~capturehub.datamanager.captures.Captures` and the dataset import.

Values travel as the server stores them (text) and are read back typed: an ``integer`` key's
``"30"`` is ``30``, a ``float`` key's ``"71.50"`` is ``71.5``, a ``string`` key's ``"1"`` stays
``"1"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from capturehub._transport import Connection, json_body
from capturehub.datamanager._wire import segment
from capturehub.exceptions import ConflictError, ServerError

Kind = Literal["label", "metadata"]
Value = str | int | float
LABEL_TYPES = ("string", "integer", "float")


@dataclass(frozen=True)
class Label:
    """A segment label (``is_metadata`` False) or a metadata key (True) of a project.

    Attributes:
        name: unique across the project's labels and metadata keys.
        type: ``"string"``, ``"integer"`` or ``"float"``; every value parses as it.
        is_dropdown: True when only ``values`` may be used; otherwise a new value is created
            the first time a segment or a capture uses it.
        is_metadata: True for a capture-level metadata key, False for a segment label.
        values: the values, typed (``30``, not ``"30"``, for an integer key), oldest first.
        uuid: the server's identifier.
        value_uuids: value (as the server stores it, text) → its uuid.
    """

    name: str
    type: str
    is_dropdown: bool
    is_metadata: bool
    values: tuple[Value, ...]
    uuid: str
    value_uuids: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def _from_wire(cls, body: dict[str, Any]) -> Label:
        label_type = str(body.get("type") or "string")
        texts = [str(item["value"]) for item in body.get("label_values") or []]
        return cls(
            name=str(body["name"]),
            type=label_type,
            is_dropdown=bool(body.get("is_dropdown")),
            is_metadata=bool(body.get("metadata")),
            values=tuple(typed_value(text, label_type) for text in texts),
            uuid=str(body["uuid"]),
            value_uuids={
                str(item["value"]): str(item["uuid"]) for item in body.get("label_values") or []
            },
        )

    def has_value(self, value: Value) -> bool:
        """Whether ``value`` is one of this label's values (numbers compare as numbers)."""
        wanted = comparable(value, self.type)
        return any(comparable(existing, self.type) == wanted for existing in self.values)


def typed_value(text: Any, label_type: str) -> Value:
    """A value as the server sends it (text) read as its label's type."""
    if not isinstance(text, str):
        return text if isinstance(text, int | float) and not isinstance(text, bool) else str(text)
    try:
        if label_type == "integer":
            return int(text)
        if label_type == "float":
            return float(text)
    except ValueError:
        pass
    return text


def comparable(value: Any, label_type: str) -> Any:
    """What the server would store for ``value`` under a label of ``label_type``, in a form
    that compares equal exactly when the server would consider the values the same."""
    if label_type in ("integer", "float"):
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            return ("text", str(value))
        return ("number", number) if math.isfinite(number) else ("text", str(value))
    if isinstance(value, str):
        return ("text", value.strip())
    return ("text", repr(value))


def infer_type(values: Iterable[Any]) -> str:
    """The type a new key gets from the Python values it will hold: all ``int`` →
    ``"integer"``, all numbers → ``"float"``, anything else (or nothing) → ``"string"``."""
    kinds = {
        "integer" if isinstance(v, int) else "float" if isinstance(v, float) else "string"
        for v in values
        if not isinstance(v, bool)
    }
    if kinds == {"integer"}:
        return "integer"
    if kinds and kinds <= {"integer", "float"}:
        return "float"
    return "string"


def check_value(value: Any, what: str) -> None:
    """Refuse a Python value the server cannot store (it takes strings and numbers)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"{what} must be a str, int or float, not {type(value).__name__}")


def sort_values(values: Iterable[Value], label_type: str) -> list[Value]:
    """Distinct values in a stable, readable order: numbers by value, text alphabetically."""
    distinct: dict[Any, Value] = {}
    for value in values:
        distinct.setdefault(comparable(value, label_type), value)
    return [distinct[key] for key in sorted(distinct, key=lambda item: (item[0], item[1]))]


# -- server calls ---------------------------------------------------------------------------


def list_definitions(connection: Connection, project_uuid: str, kind: Kind) -> list[Label]:
    """Every label (``kind="label"``) or metadata key (``"metadata"``) of the project."""
    path = f"project/{segment(project_uuid)}/{kind}/"
    body = connection.get_json(path)
    if not isinstance(body, list):
        raise ServerError(f"unexpected answer from {path}: {body!r:.200}")
    return [Label._from_wire(item) for item in body]


def create_definition(
    connection: Connection,
    project_uuid: str,
    kind: Kind,
    name: str,
    values: Iterable[Value] | None,
    *,
    type: str,
    dropdown: bool,
    exist_ok: bool,
) -> Label:
    """Create a label or metadata key with its values.

    With ``exist_ok`` an existing one of the same kind is kept and given the values it lacks
    (its type and dropdown flag are left alone); otherwise a taken name raises ConflictError.
    """
    if type not in LABEL_TYPES:
        raise ValueError(f"type must be one of {', '.join(LABEL_TYPES)}, not {type!r}")
    wanted = list(values or [])
    for value in wanted:
        check_value(value, f"a value of {name!r}")
    path = f"project/{segment(project_uuid)}/{kind}/"
    # The values keep the caller's order: it is the order they are listed in afterwards.
    payload = {
        "name": name,
        "type": type,
        "is_dropdown": dropdown,
        "values": _distinct(wanted, type),
    }
    try:
        return Label._from_wire(json_body(connection.request("POST", path, json=payload)))
    except ConflictError:
        if not exist_ok:
            raise
        existing = {item.name: item for item in list_definitions(connection, project_uuid, kind)}
        label = existing.get(name)
        if label is None:  # the name is taken by the other kind: the server's 409 says so
            raise
    return add_values(connection, project_uuid, label, wanted)


def add_values(
    connection: Connection, project_uuid: str, label: Label, values: Iterable[Value]
) -> Label:
    """Give ``label`` the values it does not have yet (one request; none when it has all)."""
    missing = [value for value in _distinct(values, label.type) if not label.has_value(value)]
    if not missing:
        return label
    kind = "metadata" if label.is_metadata else "label"
    path = f"project/{segment(project_uuid)}/{kind}/{segment(label.uuid)}/"
    return Label._from_wire(json_body(connection.request("PATCH", path, json={"values": missing})))


def _distinct(values: Iterable[Value], label_type: str) -> list[Value]:
    seen: set[Any] = set()
    result = []
    for value in values:
        key = comparable(value, label_type)
        if key not in seen:
            seen.add(key)
            result.append(value)
    return result
