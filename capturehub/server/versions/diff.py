"""What differs between two versions of a project: captures added, removed, and changed
(file, name, metadata, segments), with label counts on each side.

Captures are matched by identity (the capture a row was copied from), so a renamed capture is
changed, not removed and added. Set-based: metadata and segments are compared as rows of
integers (value ids are shared by a project's versions, snapshot.py) with EXCEPT, and only the
changed captures' details are read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, except_, select
from sqlalchemy.orm import Session, aliased

from capturehub.server.models import DatasetVersion, VersionCapture, VersionMetadata, VersionSegment
from capturehub.server.versions.reading import relations

CHUNK = 1000


def diff(session: Session, old: DatasetVersion, new: DatasetVersion) -> dict[str, Any]:
    before = aliased(VersionCapture)
    after = aliased(VersionCapture)
    matched = and_(before.capture_id == after.capture_id, before.uuid == after.uuid)
    removed = session.execute(
        select(before.uuid, before.name)
        .where(before.version_id == old.id)
        .where(~select(after.id).where(after.version_id == new.id, matched).exists())
        .order_by(before.name)
    ).all()
    added = session.execute(
        select(after.uuid, after.name)
        .where(after.version_id == new.id)
        .where(~select(before.id).where(before.version_id == old.id, matched).exists())
        .order_by(after.name)
    ).all()
    pairs = {
        row.capture_id: row
        for row in session.execute(
            select(
                before.capture_id,
                before.id.label("old_row"),
                after.id.label("new_row"),
                before.uuid,
                before.name.label("old_name"),
                after.name.label("new_name"),
                before.sha256.label("old_sha256"),
                after.sha256.label("new_sha256"),
            )
            .join(after, and_(matched, after.version_id == new.id))
            .where(before.version_id == old.id)
            .where((before.sha256 != after.sha256) | (before.name != after.name))
        )
    }
    changed_metadata = _changed(session, VersionMetadata, old.id, new.id, ())
    changed_segments = _changed(session, VersionSegment, old.id, new.id, ("start", "end"))
    common = _common(session, old.id, new.id, (changed_metadata | changed_segments) - set(pairs))
    changes: list[dict[str, Any]] = []
    rows = {**common, **pairs}
    details_old, details_new = _details(session, rows, changed_metadata | changed_segments)
    for capture_id, row in rows.items():
        item: dict[str, Any] = {"uuid": row.uuid, "name": row.new_name, "changes": []}
        if row.old_sha256 != row.new_sha256:
            item["changes"].append("file")
            item["file"] = {"before": row.old_sha256, "after": row.new_sha256}
        if row.old_name != row.new_name:
            item["changes"].append("name")
            item["renamed"] = {"before": row.old_name, "after": row.new_name}
        for kind, ids, index in (
            ("metadata", changed_metadata, 0),
            ("segments", changed_segments, 1),
        ):
            if capture_id in ids:
                item["changes"].append(kind)
                item[kind] = {
                    "before": details_old[index].get(row.old_row, {} if index == 0 else []),
                    "after": details_new[index].get(row.new_row, {} if index == 0 else []),
                }
        if item["changes"]:
            changes.append(item)
    changes.sort(key=lambda item: item["name"])
    return {
        "from": old.name,
        "to": new.name,
        "added": [{"uuid": uuid, "name": name} for uuid, name in added],
        "removed": [{"uuid": uuid, "name": name} for uuid, name in removed],
        "changed": changes,
        "labels": {"from": old.label_counts or {}, "to": new.label_counts or {}},
        "content_hash": {"from": old.content_hash, "to": new.content_hash},
    }


def _side(table: Any, version_id: int, columns: tuple[str, ...]) -> Any:
    owner = VersionCapture.__table__
    rows = table.__table__
    return (
        select(owner.c.capture_id, rows.c.value_id, *(rows.c[name] for name in columns))
        .select_from(rows)
        .join(owner, owner.c.id == rows.c.version_capture_id)
        .where(owner.c.version_id == version_id)
    )


def _changed(
    session: Session, table: Any, old: int, new: int, columns: tuple[str, ...]
) -> set[int]:
    """Captures whose rows of ``table`` differ between the versions (either way)."""
    found: set[int] = set()
    for first, second in ((old, new), (new, old)):
        difference = except_(_side(table, first, columns), _side(table, second, columns))
        found.update(session.scalars(select(difference.subquery().c.capture_id).distinct()))
    return found


def _common(session: Session, old: int, new: int, capture_ids: set[int]) -> dict[int, Any]:
    """The pairs of rows of captures in both versions, among ``capture_ids``."""
    before = aliased(VersionCapture)
    after = aliased(VersionCapture)
    found: dict[int, Any] = {}
    ids = sorted(capture_ids)
    for start in range(0, len(ids), CHUNK):
        for row in session.execute(
            select(
                before.capture_id,
                before.id.label("old_row"),
                after.id.label("new_row"),
                before.uuid,
                before.name.label("old_name"),
                after.name.label("new_name"),
                before.sha256.label("old_sha256"),
                after.sha256.label("new_sha256"),
            )
            .join(
                after,
                and_(
                    after.version_id == new,
                    after.capture_id == before.capture_id,
                    after.uuid == before.uuid,
                ),
            )
            .where(before.version_id == old, before.capture_id.in_(ids[start : start + CHUNK]))
        ):
            found[row.capture_id] = row
    return found


def _details(
    session: Session, rows: dict[int, Any], capture_ids: set[int]
) -> tuple[tuple[dict[int, Any], dict[int, Any]], tuple[dict[int, Any], dict[int, Any]]]:
    """Metadata and segments, before and after, of the changed captures."""
    wanted = [rows[capture_id] for capture_id in capture_ids if capture_id in rows]
    old_rows = [row.old_row for row in wanted]
    new_rows = [row.new_row for row in wanted]
    result = []
    for row_ids in (old_rows, new_rows):
        metadata: dict[int, Any] = {}
        segments: dict[int, Any] = {}
        for start in range(0, len(row_ids), CHUNK):
            found_metadata, found_segments = relations(session, row_ids[start : start + CHUNK])
            metadata.update(found_metadata)
            segments.update(found_segments)
        result.append((metadata, segments))
    return result[0], result[1]
