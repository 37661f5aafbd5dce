"""Rules for labels, metadata keys and their values.

A name is unique across a project's labels *and* metadata keys (one table, one constraint), so
that a statistics column or a filter names one thing. Values parse as their label's type.
Deleting a label or value deletes the segments and metadata that use it, and bumps those
captures' versions first: their metadata or segments change.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capturehub.server.errors import BadRequest, Conflict, NotFound
from capturehub.server.labels.schemas import (
    Kind,
    LabelCreate,
    LabelUpdate,
    ValueCreate,
    ValueUpdate,
    kind_of,
)
from capturehub.server.labels.values import (
    check_color,
    check_type,
    palette_color,
    parse_value,
)
from capturehub.server.labels.versions import bump_captures_in
from capturehub.server.models import (
    CaptureMetadataValue,
    Label,
    LabelValue,
    Project,
    Segment,
    utcnow,
)
from capturehub.server.names import validate_name


def get_label(session: Session, project: Project, kind: Kind, label_uuid: str) -> Label:
    """The project's label (or metadata key) of this kind; a 404 for any other uuid."""
    label = session.scalar(
        select(Label).where(
            Label.uuid == label_uuid,
            Label.project_id == project.id,
            Label.is_metadata == kind.is_metadata,
        )
    )
    if label is None:
        raise NotFound(f"No {kind.noun} {label_uuid} in this project.")
    return label


def values_of(session: Session, label_ids: list[int]) -> dict[int, list[LabelValue]]:
    by_label: dict[int, list[LabelValue]] = defaultdict(list)
    if label_ids:
        rows = session.scalars(
            select(LabelValue)
            .where(LabelValue.label_id.in_(label_ids))
            .order_by(LabelValue.created_at, LabelValue.id)
        )
        for value in rows:
            by_label[value.label_id].append(value)
    return by_label


def list_labels(session: Session, project: Project, kind: Kind) -> list[tuple[Label, list[Any]]]:
    labels = list(
        session.scalars(
            select(Label)
            .where(Label.project_id == project.id, Label.is_metadata == kind.is_metadata)
            .order_by(Label.created_at, Label.id)
        )
    )
    values = values_of(session, [label.id for label in labels])
    return [(label, values[label.id]) for label in labels]


def _duplicate_name(session: Session, project: Project, name: str) -> Conflict:
    existing = session.scalar(
        select(Label).where(Label.project_id == project.id, Label.name == name)
    )
    what = kind_of(existing).noun if existing is not None else "label or metadata key"
    message = (
        f"This project already has a {what} named {name!r}; names are unique across labels "
        "and metadata keys."
    )
    return Conflict(message, data={"name": [message]})


def _name_taken(session: Session, project: Project, name: str) -> bool:
    return (
        session.scalar(select(Label.id).where(Label.project_id == project.id, Label.name == name))
        is not None
    )


def create_label(session: Session, project: Project, kind: Kind, body: LabelCreate) -> Label:
    name = validate_name(body.name, what=kind.noun)
    label_type = check_type(body.type)
    if _name_taken(session, project, name):
        raise _duplicate_name(session, project, name)
    label = Label(
        project_id=project.id,
        name=name,
        type=label_type,
        is_dropdown=body.is_dropdown,
        is_metadata=kind.is_metadata,
    )
    session.add(label)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same name won the race
        raise _duplicate_name(session, project, name) from exc
    _add_values(session, label, body.values or [], existing=[])
    return label


def _add_values(
    session: Session, label: Label, raw_values: list[Any], *, existing: list[LabelValue]
) -> None:
    """Add the values not present yet (a repeated value in one request is a 400)."""
    present = {value.value for value in existing}
    seen: set[str] = set()
    for raw in raw_values:
        text, number = parse_value(raw, label.type, label_name=label.name, field="values")
        if text in seen:
            message = f"The value {text!r} is listed twice for {label.name!r}."
            raise BadRequest(message, data={"values": [message]})
        seen.add(text)
        if text in present:
            continue
        session.add(
            LabelValue(
                label_id=label.id,
                value=text,
                number=number,
                color=palette_color(len(present)),
            )
        )
        present.add(text)
    session.flush()


def update_label(session: Session, label: Label, body: LabelUpdate) -> Label:
    fields = body.model_fields_set
    project = session.get(Project, label.project_id)
    assert project is not None
    kind = kind_of(label)
    changes_captures = False
    if "name" in fields and body.name is not None and body.name != label.name:
        name = validate_name(body.name, what=kind.noun)
        if _name_taken(session, project, name):
            raise _duplicate_name(session, project, name)
        label.name = name
        changes_captures = True
    if "type" in fields and body.type is not None and body.type != label.type:
        label.type = check_type(body.type)
        _retype_values(session, label)
        changes_captures = True
    if "is_dropdown" in fields and body.is_dropdown is not None:
        label.is_dropdown = body.is_dropdown
    if body.values:
        existing = list(session.scalars(select(LabelValue).where(LabelValue.label_id == label.id)))
        _add_values(session, label, body.values, existing=existing)
    label.last_modified = utcnow()
    if changes_captures:
        # The captures' metadata (or segments) now read differently: a new version.
        _bump_users_of(session, label_id=label.id)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _duplicate_name(session, project, label.name) from exc
    return label


def _retype_values(session: Session, label: Label) -> None:
    """Re-parse every value under the new type; a 400 naming the first that does not fit."""
    values = list(session.scalars(select(LabelValue).where(LabelValue.label_id == label.id)))
    canonical: dict[str, str] = {}
    for value in values:
        try:
            text, number = parse_value(value.value, label.type, label_name=label.name)
        except BadRequest as exc:
            message = (
                f"Cannot make {label.name!r} a {label.type} label: its value {value.value!r} "
                f"does not parse ({exc.message})"
            )
            raise BadRequest(message, data={"type": [message]}) from None
        if text in canonical:
            message = (
                f"Cannot make {label.name!r} a {label.type} label: its values "
                f"{canonical[text]!r} and {value.value!r} would both become {text!r}."
            )
            raise BadRequest(message, data={"type": [message]})
        canonical[text] = value.value
        value.value, value.number = text, number


def delete_label(session: Session, label: Label) -> None:
    _bump_users_of(session, label_id=label.id)
    session.execute(delete(Label).where(Label.id == label.id))


def _bump_users_of(
    session: Session, *, label_id: int | None = None, value_id: int | None = None
) -> None:
    """Bump the captures whose metadata or segments use this label (or value)."""
    if value_id is not None:
        metadata_users = select(CaptureMetadataValue.capture_id).where(
            CaptureMetadataValue.label_value_id == value_id
        )
        segment_users = select(Segment.capture_id).where(Segment.label_value_id == value_id)
    else:
        metadata_users = select(CaptureMetadataValue.capture_id).where(
            CaptureMetadataValue.label_id == label_id
        )
        segment_users = select(Segment.capture_id).where(Segment.label_id == label_id)
    bump_captures_in(session, metadata_users.union(segment_users))


# -- values -------------------------------------------------------------------------------------


def get_value(session: Session, label: Label, value_uuid: str) -> LabelValue:
    value = session.scalar(
        select(LabelValue).where(LabelValue.uuid == value_uuid, LabelValue.label_id == label.id)
    )
    if value is None:
        raise NotFound(f"{label.name!r} has no value {value_uuid}.")
    return value


def _duplicate_value(label: Label, text: str) -> Conflict:
    message = f"{label.name!r} already has the value {text!r}."
    return Conflict(message, data={"value": [message]})


def create_value(session: Session, label: Label, body: ValueCreate) -> LabelValue:
    text, number = parse_value(body.value, label.type, label_name=label.name)
    if session.scalar(
        select(LabelValue.id).where(LabelValue.label_id == label.id, LabelValue.value == text)
    ):
        raise _duplicate_value(label, text)
    count = session.scalar(select(func.count()).where(LabelValue.label_id == label.id)) or 0
    value = LabelValue(
        label_id=label.id,
        value=text,
        number=number,
        color=check_color(body.color) if body.color is not None else palette_color(count),
    )
    session.add(value)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _duplicate_value(label, text) from exc
    return value


def update_value(session: Session, label: Label, value: LabelValue, body: ValueUpdate) -> None:
    fields = body.model_fields_set
    if "value" in fields and body.value is not None:
        text, number = parse_value(body.value, label.type, label_name=label.name)
        if text != value.value:
            if session.scalar(
                select(LabelValue.id).where(
                    LabelValue.label_id == label.id, LabelValue.value == text
                )
            ):
                raise _duplicate_value(label, text)
            value.value, value.number = text, number
            _bump_users_of(session, value_id=value.id)
    if "color" in fields and body.color is not None:
        value.color = check_color(body.color)
    value.last_modified = utcnow()
    try:
        session.flush()
    except IntegrityError as exc:
        raise _duplicate_value(label, value.value) from exc


def delete_value(session: Session, value: LabelValue) -> None:
    _bump_users_of(session, value_id=value.id)
    session.execute(delete(LabelValue).where(LabelValue.id == value.id))


def ensure_label(session: Session, project: Project, name: str, *, is_metadata: bool) -> None:
    """Create the segment label or metadata key if the project has none of that name (free
    values: anything a client sends is a new value). A key of the other kind stays, and the
    write that follows says so."""
    validate_name(name, what="metadata key" if is_metadata else "label")
    found = session.scalar(
        select(Label.id).where(Label.project_id == project.id, Label.name == name)
    )
    if found is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                Label(
                    project_id=project.id,
                    name=name,
                    type="string",
                    is_dropdown=False,
                    is_metadata=is_metadata,
                )
            )
    except IntegrityError:
        pass  # made by a concurrent upload meanwhile: the same label
