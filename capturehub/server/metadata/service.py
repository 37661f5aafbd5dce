"""Setting, changing and removing capture metadata, one request at a time however many items.

One value per key per capture (a unique constraint): posting a value for a key the capture
already has **replaces** it in place (the relationship keeps its uuid), because "set Subject to
S02" is what a client means; posting the same key twice in one request is a 400. A request is
one transaction: a few lookups, one multi-row INSERT, one bulk UPDATE and one version bump.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from capturehub.server.errors import BadRequest, Conflict, NotFound
from capturehub.server.formats import timestamp
from capturehub.server.labels.schemas import METADATA
from capturehub.server.labels.versions import CHUNK, bump_captures
from capturehub.server.metadata.schemas import relationship_json, row_json, select_relationships
from capturehub.server.models import (
    CaptureMetadataValue,
    Label,
    Project,
    new_uuid,
    utcnow,
)
from capturehub.server.relationships.resolve import (
    CaptureRow,
    LabelIndex,
    Problems,
    ValueResolver,
    ValueSlot,
    find_captures,
    lock_present,
    write_race,
)
from capturehub.server.relationships.rows import RelationshipKind

RELATIONSHIPS = RelationshipKind(
    model=CaptureMetadataValue,
    noun="metadata relationship",
    select_rows=select_relationships,
    to_json=row_json,
)


@dataclass
class Planned:
    capture: CaptureRow
    label: Label
    value: ValueSlot


def _plan(
    session: Session,
    project: Project,
    items: list[dict[str, Any]],
    *,
    single: bool,
    capture: CaptureRow | None,
) -> list[Planned]:
    """Resolve every item's capture, key and value, or a 400 listing every problem."""
    problems = Problems(single=single)
    labels = LabelIndex.load(session, project)
    resolver = ValueResolver(session, project, labels)
    resolver.prefetch(item.get("label_value") for item in items)
    captures = (
        {capture.uuid: capture}
        if capture is not None
        else find_captures(
            session, project, [c for item in items if isinstance(c := item.get("capture"), str)]
        )
    )
    planned: list[Planned] = []
    first_index: dict[tuple[int, int], int] = {}
    for index, item in enumerate(items):
        target = capture
        if target is None:
            ref = item.get("capture")
            target = captures.get(ref) if isinstance(ref, str) else None
            if target is None:
                problems.add(index, "capture", f"This project has no capture {ref!r}.")
        label = labels.find(item.get("label"), METADATA, problems, index, project_uuid=project.uuid)
        slot = None
        if "label_value" not in item:
            problems.add(index, "label_value", "label_value is required.")
        elif label is not None:
            slot = resolver.find(label, item["label_value"], problems, index)
        if target is None or label is None or slot is None:
            continue
        key = (target.id, label.id)
        if key in first_index:
            problems.add(
                index,
                "label",
                f"{label.name!r} of capture {target.name!r} is set twice in one request "
                f"(also by item {first_index[key]}); a capture has one value per key.",
            )
            continue
        first_index[key] = index
        planned.append(Planned(capture=target, label=label, value=slot))
    problems.raise_if_any()
    resolver.finish()
    return planned


def set_metadata(
    session: Session,
    project: Project,
    items: list[dict[str, Any]],
    *,
    single: bool,
    capture: CaptureRow | None = None,
) -> list[dict[str, Any]]:
    """Give each item's capture the item's value for the item's key (create or replace)."""
    planned = _plan(session, project, items, single=single, capture=capture)
    lock_present(session, [item.capture for item in planned], "metadata")
    existing = _existing(session, planned)
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changed: set[int] = set()
    answer = []
    for item in planned:
        row = existing.get((item.capture.id, item.label.id))
        assert item.value.id is not None
        if row is None:
            uuid, created, modified = new_uuid(), now, now
            inserts.append(
                {
                    "uuid": uuid,
                    "capture_id": item.capture.id,
                    "label_id": item.label.id,
                    "label_value_id": item.value.id,
                    "capture_created_at": item.capture.created_at,
                    "created_at": now,
                    "last_modified": now,
                }
            )
            changed.add(item.capture.id)
        else:
            uuid, created, modified = row.uuid, row.created_at, row.last_modified
            if row.label_value_id != item.value.id:
                modified = now
                updates.append(
                    {"id": row.id, "label_value_id": item.value.id, "last_modified": now}
                )
                changed.add(item.capture.id)
        answer.append(
            relationship_json(
                uuid=uuid,
                capture_uuid=item.capture.uuid,
                label_uuid=item.label.uuid,
                label_name=item.label.name,
                value_uuid=item.value.uuid,
                value=item.value.text,
                created_at=timestamp(created),
                last_modified=timestamp(modified),
            )
        )
    try:
        # In a SAVEPOINT so that the transaction can still tell why the writes failed
        # (PostgreSQL): a capture deleted meanwhile (foreign key violation; its metadata rows
        # gone, so the update matches fewer rows: StaleDataError) gives a 404, a concurrent
        # request setting the same key first (unique violation) a 409.
        with session.begin_nested():
            if inserts:  # one executemany (an empty list would insert one row of defaults)
                session.execute(insert(cast(Table, CaptureMetadataValue.__table__)), inserts)
            if updates:
                session.execute(update(CaptureMetadataValue), updates)
    except (IntegrityError, StaleDataError) as exc:
        captures = [item.capture for item in planned]
        raise write_race(session, project, captures, "metadata") from exc
    bump_captures(session, changed)
    return answer


@dataclass
class _Existing:
    id: int
    uuid: str
    label_value_id: int
    created_at: datetime
    last_modified: datetime


def _existing(session: Session, planned: list[Planned]) -> dict[tuple[int, int], _Existing]:
    capture_ids = sorted({item.capture.id for item in planned})
    label_ids = sorted({item.label.id for item in planned})
    found: dict[tuple[int, int], _Existing] = {}
    for start in range(0, len(capture_ids), CHUNK):
        rows = session.execute(
            select(
                CaptureMetadataValue.capture_id,
                CaptureMetadataValue.label_id,
                CaptureMetadataValue.id,
                CaptureMetadataValue.uuid,
                CaptureMetadataValue.label_value_id,
                CaptureMetadataValue.created_at,
                CaptureMetadataValue.last_modified,
            ).where(
                CaptureMetadataValue.capture_id.in_(capture_ids[start : start + CHUNK]),
                CaptureMetadataValue.label_id.in_(label_ids),
            )
        )
        for row in rows:
            found[(row.capture_id, row.label_id)] = _Existing(
                id=row.id,
                uuid=row.uuid,
                label_value_id=row.label_value_id,
                created_at=row.created_at,
                last_modified=row.last_modified,
            )
    return found


def update_relationship(
    session: Session,
    project: Project,
    capture: CaptureRow,
    relationship_uuid: str,
    body: Any,
) -> dict[str, Any]:
    """Change one relationship's value (or key: then the capture must not have that key yet)."""
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.", data={"body": ["expected an object"]})
    lock_present(session, [capture], "metadata")
    relationship = session.scalar(
        select(CaptureMetadataValue).where(
            CaptureMetadataValue.uuid == relationship_uuid,
            CaptureMetadataValue.capture_id == capture.id,
        )
    )
    if relationship is None:
        raise NotFound(f"No metadata relationship {relationship_uuid} on this capture.")
    current_label = session.get(Label, relationship.label_id)
    assert current_label is not None
    item = {"label": body.get("label", current_label.uuid)}
    if "label_value" in body:
        item["label_value"] = body["label_value"]
    elif body.get("label", current_label.uuid) in (current_label.uuid, current_label.name):
        return RELATIONSHIPS.get(session, project, relationship_uuid, capture)
    else:
        raise BadRequest(
            "A new label needs a label_value.", data={"label_value": ["required with label"]}
        )
    (planned,) = _plan(session, project, [item], single=True, capture=capture)
    if planned.label.id != relationship.label_id and session.scalar(
        select(CaptureMetadataValue.id).where(
            CaptureMetadataValue.capture_id == capture.id,
            CaptureMetadataValue.label_id == planned.label.id,
        )
    ):
        raise Conflict(
            f"Capture {capture.name!r} already has a value for {planned.label.name!r}; change "
            "that relationship instead."
        )
    assert planned.value.id is not None
    if (planned.label.id, planned.value.id) != (relationship.label_id, relationship.label_value_id):
        relationship.label_id = planned.label.id
        relationship.label_value_id = planned.value.id
        relationship.last_modified = utcnow()
        session.flush()
        bump_captures(session, [capture.id])
    return RELATIONSHIPS.get(session, project, relationship_uuid, capture)
