"""Turning the references in relationship bodies into rows, for thousands of items at once.

A metadata or segment body names a capture (uuid), a label (uuid, or its name) and a value:
the uuid of one of the label's values or, as a convenience, the value itself (``"S01"``,
``34``). A raw value of a dropdown label must be one of its values; a raw value of any other
label is created on the fly. Lookups cost a few queries per request (per thousand captures,
per label named), never one per item; every problem of every item is collected so that one
400 lists them all.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capturehub.server.errors import BadRequest, Conflict, NotFound
from capturehub.server.labels.schemas import Kind, kind_of
from capturehub.server.labels.values import palette_color, parse_value
from capturehub.server.labels.versions import CHUNK, lock_captures
from capturehub.server.models import Capture, Label, LabelValue, Project, new_uuid, utcnow

# How many problems a 400's detail spells out; `data` carries them all.
SHOWN_PROBLEMS = 5


class Problems:
    """Every problem found in a request body, keyed by the field (``3.label_value``)."""

    def __init__(self, *, single: bool) -> None:
        self.single = single
        self.messages: list[str] = []
        self.data: dict[str, list[str]] = {}

    def add(self, index: int, field_name: str, message: str) -> None:
        key = field_name if self.single else f"{index}.{field_name}"
        self.data.setdefault(key, []).append(message)
        self.messages.append(message if self.single else f"Item {index}: {message}")

    def raise_if_any(self) -> None:
        if not self.messages:
            return
        detail = " ".join(self.messages[:SHOWN_PROBLEMS])
        if len(self.messages) > SHOWN_PROBLEMS:
            detail += f" ... and {len(self.messages) - SHOWN_PROBLEMS} more problems (see data)."
        raise BadRequest(detail, data=self.data)


def is_uuid(text: str) -> bool:
    try:
        uuid_module.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


@dataclass
class ValueSlot:
    """A value an item refers to: an existing row, or one this request creates."""

    label: Label
    text: str
    number: float | None
    uuid: str
    id: int | None = None


@dataclass
class LabelIndex:
    """The project's labels and metadata keys, found by uuid or by name."""

    by_uuid: dict[str, Label]
    by_name: dict[str, Label]
    by_id: dict[int, Label]

    @classmethod
    def load(cls, session: Session, project: Project) -> LabelIndex:
        labels = list(session.scalars(select(Label).where(Label.project_id == project.id)))
        return cls(
            by_uuid={label.uuid: label for label in labels},
            by_name={label.name: label for label in labels},
            by_id={label.id: label for label in labels},
        )

    def find(
        self, ref: Any, kind: Kind, problems: Problems, index: int, *, project_uuid: str
    ) -> Label | None:
        if not isinstance(ref, str) or not ref:
            problems.add(index, "label", f"label must be the uuid or name of a {kind.noun}.")
            return None
        label = self.by_uuid.get(ref) or self.by_name.get(ref)
        if label is None:
            problems.add(
                index,
                "label",
                f"This project has no {kind.noun} {ref!r}; create it with POST "
                f"project/{project_uuid}/{kind.path}/.",
            )
            return None
        if label.is_metadata != kind.is_metadata:
            other = kind_of(label)
            problems.add(
                index,
                "label",
                f"{label.name!r} is a {other.noun}, not a {kind.noun}.",
            )
            return None
        return label


@dataclass
class ValueResolver:
    """Finds (or plans to create) the value each item names; :meth:`finish` writes new ones."""

    session: Session
    project: Project
    labels: LabelIndex
    _loaded: dict[int, list[LabelValue]] = field(default_factory=dict)
    _by_uuid: dict[str, ValueSlot] = field(default_factory=dict)
    _by_text: dict[tuple[int, str], ValueSlot] = field(default_factory=dict)
    _by_number: dict[tuple[int, float], ValueSlot] = field(default_factory=dict)
    _new: list[ValueSlot] = field(default_factory=list)
    _owners: dict[str, Label] = field(default_factory=dict)

    def load(self, labels: Iterable[Label]) -> None:
        """Load the values of these labels (one query for all of them)."""
        wanted = {label.id: label for label in labels if label.id not in self._loaded}
        ids = sorted(wanted)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            for label_id in chunk:
                self._loaded[label_id] = []
            for value in self.session.scalars(
                select(LabelValue).where(LabelValue.label_id.in_(chunk))
            ):
                self._loaded[value.label_id].append(value)
                self._index(
                    ValueSlot(
                        label=wanted[value.label_id],
                        text=value.value,
                        number=value.number,
                        uuid=value.uuid,
                        id=value.id,
                    )
                )

    def _index(self, slot: ValueSlot) -> None:
        self._by_uuid[slot.uuid] = slot
        self._by_text[(slot.label.id, slot.text)] = slot
        if slot.number is not None:
            self._by_number[(slot.label.id, slot.number)] = slot

    def prefetch(self, refs: Iterable[Any]) -> None:
        """Learn which uuid-looking references are value uuids of this project (one query per
        thousand), so that :meth:`find` can tell a reference from a raw value that merely looks
        like a uuid (a device id, say)."""
        distinct = {ref for ref in refs if isinstance(ref, str)}
        candidates = sorted(ref for ref in distinct if is_uuid(ref))
        for start in range(0, len(candidates), CHUNK):
            rows = self.session.execute(
                select(LabelValue.uuid, LabelValue.label_id)
                .join(Label, Label.id == LabelValue.label_id)
                .where(
                    LabelValue.uuid.in_(candidates[start : start + CHUNK]),
                    Label.project_id == self.project.id,
                )
            )
            for value_uuid, label_id in rows:
                self._owners[value_uuid] = self.labels.by_id[label_id]

    def find(self, label: Label, ref: Any, problems: Problems, index: int) -> ValueSlot | None:
        if label.id not in self._loaded:
            self.load([label])
        if isinstance(ref, str) and (slot := self._by_uuid.get(ref)) is not None:
            if slot.label.id == label.id:
                return slot
            self._foreign(problems, index, ref, slot.label, label)
            return None
        if isinstance(ref, str) and (owner := self._owners.get(ref)) is not None:
            self._foreign(problems, index, ref, owner, label)
            return None
        try:
            text, number = parse_value(ref, label.type, label_name=label.name)
        except BadRequest as exc:
            problems.add(index, "label_value", exc.message)
            return None
        slot = (
            self._by_number.get((label.id, number))
            if number is not None
            else self._by_text.get((label.id, text))
        )
        if slot is not None:
            return slot
        if label.is_dropdown:
            known = [value.value for value in self._loaded[label.id]][:20]
            problems.add(
                index,
                "label_value",
                f"{text!r} is neither the uuid nor one of the values of the dropdown "
                f"{label.name!r} (its values: {', '.join(known) or 'none yet'}); add the value "
                "first or send the uuid of an existing one.",
            )
            return None
        slot = ValueSlot(label=label, text=text, number=number, uuid=new_uuid())
        self._index(slot)
        self._new.append(slot)
        return slot

    def _foreign(
        self, problems: Problems, index: int, ref: str, owner: Label, label: Label
    ) -> None:
        problems.add(
            index,
            "label_value",
            f"The value {ref} belongs to {kind_of(owner).noun} {owner.name!r}, not to "
            f"{label.name!r}.",
        )

    def finish(self) -> None:
        """Insert the values this request creates (one statement) and learn their ids."""
        if not self._new:
            return
        now = utcnow()
        counts: dict[int, int] = {}
        rows = []
        for slot in self._new:
            position = len(self._loaded[slot.label.id]) + counts.get(slot.label.id, 0)
            counts[slot.label.id] = counts.get(slot.label.id, 0) + 1
            rows.append(
                {
                    "uuid": slot.uuid,
                    "label_id": slot.label.id,
                    "value": slot.text,
                    "number": slot.number,
                    "color": palette_color(position),
                    "created_at": now,
                    "last_modified": now,
                }
            )
        ids: dict[str, int] = {}
        try:
            # In a SAVEPOINT: if a concurrent request created one of these values first
            # (PostgreSQL; SQLite serializes writers), only this insert is undone.
            with self.session.begin_nested():
                for start in range(0, len(rows), CHUNK):
                    result = self.session.execute(
                        insert(LabelValue).returning(LabelValue.uuid, LabelValue.id),
                        rows[start : start + CHUNK],
                    )
                    ids.update({value_uuid: value_id for value_uuid, value_id in result})
        except IntegrityError:
            ids = {}
            for slot, row in zip(self._new, rows, strict=True):
                self._create_or_adopt(slot, row)
        for slot in self._new:
            if slot.id is None:
                slot.id = ids[slot.uuid]
        self._new = []

    def _create_or_adopt(self, slot: ValueSlot, row: dict[str, Any]) -> None:
        """Insert one value, or take the row a concurrent request committed for it first (the
        unique constraint waited for that request, so the row is visible now)."""
        try:
            with self.session.begin_nested():
                slot.id = self.session.scalar(insert(LabelValue).returning(LabelValue.id), row)
            return
        except IntegrityError:
            pass
        existing = self.session.execute(
            select(LabelValue.id, LabelValue.uuid).where(
                LabelValue.label_id == slot.label.id, LabelValue.value == slot.text
            )
        ).first()
        if existing is None:  # e.g. its label was deleted meanwhile
            raise Conflict(
                f"The {kind_of(slot.label).noun} {slot.label.name!r} changed while its value "
                f"{slot.text!r} was being created; retry."
            )
        slot.id, slot.uuid = existing.id, existing.uuid


@dataclass
class CaptureRow:
    """What relationship rules need of a capture, without loading its JSON columns."""

    id: int
    uuid: str
    name: str
    task_state: str
    task_result: str | None
    max_sequence: int | None
    created_at: datetime  # copied into its metadata rows (the list's order)


CAPTURE_COLUMNS = (
    Capture.id,
    Capture.uuid,
    Capture.name,
    Capture.task_state,
    Capture.task_result,
    Capture.max_sequence,
    Capture.created_at,
)


def find_captures(
    session: Session, project: Project, uuids: Iterable[str]
) -> dict[str, CaptureRow]:
    """The project's captures among ``uuids`` (one query per thousand), by uuid."""
    refs = sorted(set(uuids))
    found: dict[str, CaptureRow] = {}
    for start in range(0, len(refs), CHUNK):
        rows = session.execute(
            select(*CAPTURE_COLUMNS).where(
                Capture.project_id == project.id, Capture.uuid.in_(refs[start : start + CHUNK])
            )
        )
        for row in rows:
            found[row.uuid] = CaptureRow(*row)
    return found


def items_of(body: Any) -> tuple[list[dict[str, Any]], bool]:
    """A body that is one object or a list of objects: the objects, and whether it was one."""
    if isinstance(body, dict):
        return [body], True
    if isinstance(body, list) and all(isinstance(item, dict) for item in body):
        return body, False
    raise BadRequest(
        "The body must be a JSON object or a list of JSON objects.",
        data={"body": ["expected an object or a list of objects"]},
    )


def uuids_of(body: Any) -> list[str]:
    """A bulk DELETE body: a list of uuids, or of objects carrying a ``uuid``."""
    if isinstance(body, dict) and isinstance(body.get("uuids"), list):
        body = body["uuids"]
    if isinstance(body, list) and body:
        uuids = [item.get("uuid") if isinstance(item, dict) else item for item in body]
        if all(isinstance(uuid, str) for uuid in uuids):
            return [str(uuid) for uuid in uuids]
    raise BadRequest(
        "Send the relationships to delete as a JSON list of uuids (or of objects with a uuid).",
        data={"body": ["expected a non-empty list of uuids"]},
    )


def capture_of(session: Session, project: Project, capture_uuid: str) -> CaptureRow:
    found = find_captures(session, project, [capture_uuid])
    if capture_uuid not in found:
        raise NotFound(f"Capture {capture_uuid} not found in project {project.uuid}.")
    return found[capture_uuid]


def write_race(
    session: Session, project: Project, captures: Iterable[CaptureRow], what: str
) -> Conflict | NotFound:
    """The answer for relationship writes that a concurrent request made fail (PostgreSQL; the
    caller rolled its SAVEPOINT back): a 404 naming a capture deleted meanwhile, else a 409."""
    rows = {row.uuid: row for row in captures}
    present = find_captures(session, project, rows)
    gone = [row for uuid, row in sorted(rows.items()) if uuid not in present]
    if gone:
        return NotFound(
            f"Capture {gone[0].uuid} ({gone[0].name!r}) was deleted meanwhile; "
            f"its {what} were not saved."
        )
    return Conflict(f"Another request changed the same {what} meanwhile; retry.")


def lock_present(session: Session, captures: Iterable[CaptureRow], what: str) -> None:
    """Lock the captures a write changes (see :func:`lock_captures`); a 404 naming one deleted
    since it was looked up."""
    rows = {row.id: row for row in captures}
    present = lock_captures(session, rows)
    gone = sorted(
        (row for row_id, row in rows.items() if row_id not in present),
        key=lambda row: row.uuid,
    )
    if gone:
        raise NotFound(
            f"Capture {gone[0].uuid} ({gone[0].name!r}) was deleted meanwhile; "
            f"its {what} were not saved."
        )
