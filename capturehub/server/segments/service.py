"""Segment rules, applied to one segment or ten thousand in one transaction.

A segment needs a processed capture: its bounds are checked against ``max_sequence``, which is
only known once the capture is ``SUCCESS``. While it is ``SENT`` or ``STARTED`` the answer is a
409 (retry later); after ``FAILURE`` a 400 (the file must be fixed). Its value must belong to
its label. A request resolves every reference with a fixed number of queries, inserts with one
multi-row statement per thousand segments and bumps each touched capture's version once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from capturehub.server.errors import Conflict, NotFound
from capturehub.server.formats import timestamp
from capturehub.server.labels.schemas import LABEL
from capturehub.server.labels.versions import (
    CHUNK,
    bump_captures,
    bump_captures_in,
)
from capturehub.server.models import (
    RECORDING,
    Label,
    Project,
    Segment,
    Segmenter,
    new_uuid,
    utcnow,
)
from capturehub.server.names import validate_name
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
from capturehub.server.segments.schemas import (
    SegmenterCreate,
    row_json,
    segment_json,
    select_segments,
)

START = "capture_sample_sequence_start"
END = "capture_sample_sequence_end"


SEGMENTS = RelationshipKind(
    model=Segment, noun="segment", select_rows=select_segments, to_json=row_json
)


@dataclass
class Draft:
    """A checked segment, ready to insert or to write over an existing one."""

    capture: CaptureRow
    label: Label
    value: ValueSlot
    start: int
    end: int
    segmenter_id: int | None


def still_processing(capture: CaptureRow) -> Conflict:
    if capture.task_state == RECORDING:
        return Conflict(
            f"capture {capture.name} is still recording; add segments once it is stopped and "
            "processed (task_state SUCCESS)",
            data={"capture": ["the capture is recording"]},
        )
    return Conflict(
        f"capture {capture.name} is still being processed; retry when task_state is SUCCESS",
        data={"capture": [f"task_state is {capture.task_state}"]},
    )


def _sample_index(item: dict[str, Any], name: str, problems: Problems, index: int) -> int | None:
    raw = item.get(name)
    if raw is None:
        problems.add(index, name, f"{name} is required (a sample index).")
        return None
    if isinstance(raw, str) and raw.strip().lstrip("+-").isdigit():
        raw = int(raw)
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        problems.add(index, name, f"{name} must be a whole number (a sample index), not {raw!r}.")
        return None
    return raw


def _check_bounds(
    capture: CaptureRow, start: int, end: int, problems: Problems, index: int
) -> bool:
    good = True
    if start < 0:
        problems.add(index, START, f"{START} is {start}; sample indices start at 0.")
        good = False
    if start >= end:
        problems.add(
            index,
            START,
            f"{START} ({start}) must be less than {END} ({end}): a segment covers at least two "
            "samples, both bounds included.",
        )
        good = False
    last = capture.max_sequence
    if last is not None and end > last:
        problems.add(
            index,
            END,
            f"{END} ({end}) is past the last sample of capture {capture.name!r} "
            f"(max_sequence {last}; bounds are inclusive sample indices).",
        )
        good = False
    return good


def plan_segments(
    session: Session,
    project: Project,
    items: list[dict[str, Any]],
    *,
    single: bool,
    capture: CaptureRow | None = None,
    segmenter_id: int | None = None,
) -> list[Draft]:
    """Check every item; a 409 if a capture is still processing, else a 400 listing problems."""
    problems = Problems(single=single)
    captures = (
        {capture.uuid: capture}
        if capture is not None
        else find_captures(
            session, project, [c for item in items if isinstance(c := item.get("capture"), str)]
        )
    )
    for row in captures.values():
        if row.task_state in ("SENT", "STARTED", RECORDING):
            raise still_processing(row)
    labels = LabelIndex.load(session, project)
    resolver = ValueResolver(session, project, labels)
    resolver.prefetch(item.get("label_value") for item in items)
    segmenters = set(
        session.scalars(select(Segmenter.id).where(Segmenter.project_id == project.id))
    )
    failed: set[str] = set()
    drafts: list[Draft] = []
    for index, item in enumerate(items):
        target = capture
        if target is None:
            ref = item.get("capture")
            target = captures.get(ref) if isinstance(ref, str) else None
            if target is None:
                problems.add(index, "capture", f"This project has no capture {ref!r}.")
        if target is not None and target.task_state == "FAILURE":
            if target.uuid not in failed or single:
                problems.add(
                    index,
                    "capture",
                    f"Capture {target.name!r} failed processing ({target.task_result}), so its "
                    "samples are unknown; replace its file before adding segments.",
                )
            failed.add(target.uuid)
            target = None
        label = labels.find(item.get("label"), LABEL, problems, index, project_uuid=project.uuid)
        slot = None
        if "label_value" not in item:
            problems.add(index, "label_value", "label_value is required.")
        elif label is not None:
            slot = resolver.find(label, item["label_value"], problems, index)
        start = _sample_index(item, START, problems, index)
        end = _sample_index(item, END, problems, index)
        # The segmenter in the URL (v2/.../segmenter/{id}/...) wins over one in the item.
        chosen = segmenter_id if segmenter_id is not None else item.get("segmenter")
        if chosen is not None and (isinstance(chosen, bool) or chosen not in segmenters):
            problems.add(index, "segmenter", f"This project has no segmenter {chosen!r}.")
            continue
        if target is None or label is None or slot is None or start is None or end is None:
            continue
        if _check_bounds(target, start, end, problems, index):
            drafts.append(Draft(target, label, slot, start, end, chosen))
    problems.raise_if_any()
    resolver.finish()
    return drafts


def _json(uuid: str, draft: Draft, created: str | None, modified: str | None) -> dict[str, Any]:
    return segment_json(
        uuid=uuid,
        capture_uuid=draft.capture.uuid,
        label_uuid=draft.label.uuid,
        label_name=draft.label.name,
        value_uuid=draft.value.uuid,
        value=draft.value.text,
        start=draft.start,
        end=draft.end,
        segmenter=draft.segmenter_id,
        created_at=created,
        last_modified=modified,
    )


def create_segments(
    session: Session,
    project: Project,
    items: list[dict[str, Any]],
    *,
    single: bool,
    capture: CaptureRow | None = None,
    segmenter_id: int | None = None,
) -> list[dict[str, Any]]:
    drafts = plan_segments(
        session, project, items, single=single, capture=capture, segmenter_id=segmenter_id
    )
    lock_present(session, [draft.capture for draft in drafts], "segments")
    now = utcnow()
    stamp = timestamp(now)
    rows = []
    answer = []
    for draft in drafts:
        uuid = new_uuid()
        assert draft.value.id is not None
        rows.append(
            {
                "uuid": uuid,
                "capture_id": draft.capture.id,
                "label_id": draft.label.id,
                "label_value_id": draft.value.id,
                "segmenter_id": draft.segmenter_id,
                "start": draft.start,
                "end": draft.end,
                "created_at": now,
                "last_modified": now,
            }
        )
        answer.append(_json(uuid, draft, stamp, stamp))
    if rows:  # one executemany (an empty list would insert one row of defaults)
        try:
            # In a SAVEPOINT so that, when a capture was deleted meanwhile (PostgreSQL: a
            # foreign key violation), the transaction can still tell which one.
            with session.begin_nested():
                session.execute(insert(cast(Table, Segment.__table__)), rows)
        except IntegrityError as exc:
            captures = [draft.capture for draft in drafts]
            raise write_race(session, project, captures, "segments") from exc
    bump_captures(session, {draft.capture.id for draft in drafts})
    return answer


@dataclass
class _Current:
    id: int
    uuid: str
    capture_uuid: str
    created_at: Any
    fields: dict[str, Any]


def _current(
    session: Session, project: Project, uuids: list[str], capture: CaptureRow | None
) -> dict[str, _Current]:
    """Existing segments by uuid, with their fields as a client would send them."""
    wanted = sorted(set(uuids))
    found: dict[str, _Current] = {}
    for start in range(0, len(wanted), CHUNK):
        query = (
            select_segments(project.id)
            .add_columns(Segment.id.label("segment_id"))
            .where(Segment.uuid.in_(wanted[start : start + CHUNK]))
        )
        if capture is not None:
            query = query.where(Segment.capture_id == capture.id)
        for row in session.execute(query):
            found[row.uuid] = _Current(
                id=row.segment_id,
                uuid=row.uuid,
                capture_uuid=row.capture_uuid,
                created_at=row.created_at,
                fields={
                    "label": row.label_uuid,
                    "label_value": row.value_uuid,
                    START: row.start,
                    END: row.end,
                    "segmenter": row.segmenter_id,
                },
            )
    missing = [uuid for uuid in wanted if uuid not in found]
    if missing:
        raise NotFound(
            f"No segment {', '.join(missing[:10])} here"
            + (f" (and {len(missing) - 10} more)." if len(missing) > 10 else ".")
        )
    return found


_WRITABLE = ("label", "label_value", START, END, "segmenter")


def update_segments(
    session: Session,
    project: Project,
    items: list[dict[str, Any]],
    *,
    single: bool,
    capture: CaptureRow | None = None,
) -> list[dict[str, Any]]:
    """Change existing segments, each item naming its ``uuid``; omitted fields keep their value
    (so PUT and PATCH behave alike: clients echo whole objects back). A segment stays on its
    capture; ``capture`` in an item is ignored."""
    problems = Problems(single=single)
    for index, item in enumerate(items):
        if not isinstance(item.get("uuid"), str):
            problems.add(index, "uuid", "uuid (of the segment to change) is required.")
    problems.raise_if_any()
    current = _current(session, project, [item["uuid"] for item in items], capture)
    merged = []
    for item in items:
        existing = current[item["uuid"]]
        fields = dict(existing.fields)
        fields.update({name: item[name] for name in _WRITABLE if name in item})
        # A changed label without a new value would pair the label with the old label's value.
        if (
            "label" in item
            and "label_value" not in item
            and item["label"] != existing.fields["label"]
        ):
            fields.pop("label_value")
        fields["capture"] = existing.capture_uuid
        merged.append(fields)
    drafts = plan_segments(session, project, merged, single=single, capture=capture)
    lock_present(session, [draft.capture for draft in drafts], "segments")
    now = utcnow()
    stamp = timestamp(now)
    updates = []
    answer = []
    for item, draft in zip(items, drafts, strict=True):
        existing = current[item["uuid"]]
        assert draft.value.id is not None
        updates.append(
            {
                "id": existing.id,
                "label_id": draft.label.id,
                "label_value_id": draft.value.id,
                "start": draft.start,
                "end": draft.end,
                "segmenter_id": draft.segmenter_id,
                "last_modified": now,
            }
        )
        answer.append(_json(existing.uuid, draft, timestamp(existing.created_at), stamp))
    if updates:
        try:
            session.execute(update(Segment), updates)
        except (
            StaleDataError
        ) as exc:  # PostgreSQL: deleted since we read it (the request rolls back)
            raise NotFound(
                "A segment was deleted meanwhile (by another request, or with its capture); "
                "nothing was changed."
            ) from exc
    bump_captures(session, {draft.capture.id for draft in drafts})
    return answer


# -- segmenters ---------------------------------------------------------------------------------


def get_segmenter(session: Session, project: Project, segmenter_id: int) -> Segmenter:
    segmenter = session.scalar(
        select(Segmenter).where(Segmenter.id == segmenter_id, Segmenter.project_id == project.id)
    )
    if segmenter is None:
        raise NotFound(f"No segmenter {segmenter_id} in this project.")
    return segmenter


def list_segmenters(session: Session, project: Project) -> list[Segmenter]:
    return list(
        session.scalars(
            select(Segmenter).where(Segmenter.project_id == project.id).order_by(Segmenter.id)
        )
    )


def create_segmenter(session: Session, project: Project, body: SegmenterCreate) -> Segmenter:
    segmenter = Segmenter(
        project_id=project.id,
        name=validate_name(body.name, what="segmenter"),
        custom=body.custom,
        parameters=body.parameters or {},
    )
    session.add(segmenter)
    session.flush()
    return segmenter


def delete_segmenter(session: Session, segmenter: Segmenter) -> None:
    """Its segments stay (their ``segmenter`` becomes null): they are the user's labels."""
    bump_captures_in(
        session, select(Segment.capture_id).where(Segment.segmenter_id == segmenter.id)
    )
    session.execute(delete(Segmenter).where(Segmenter.id == segmenter.id))
