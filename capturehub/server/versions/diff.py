"""What differs between two versions of a project: captures added, removed, and changed
(file, name, metadata, segments), with label counts on each side.

Captures are matched by identity (the capture a row was copied from), so a renamed capture is
changed, not removed and added. Each version capture carries the digest of its metadata and
segments that the content hash is made of (snapshot.py, capturehub/datamanager/content_hash.py):
one join of the two versions' capture rows finds the captures whose name, file or digest
differ, and only those captures' metadata and segments are read, and compared by names.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from capturehub.server.models import DatasetVersion, VersionCapture
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
    candidates = session.execute(
        select(
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
        .where(
            or_(
                before.sha256 != after.sha256,
                before.name != after.name,
                before.digest != after.digest,
                # Versions made before digests existed: their rows are compared in full (as
                # are those of versions whose digests were of value ids: theirs differ).
                before.digest.is_(None),
                after.digest.is_(None),
            )
        )
    ).all()
    changes: list[dict[str, Any]] = []
    for start in range(0, len(candidates), CHUNK):
        rows = candidates[start : start + CHUNK]
        # Both sides in one read (row ids are unique across versions).
        metadata, segments = relations(
            session, [row.old_row for row in rows] + [row.new_row for row in rows]
        )
        for row in rows:
            item: dict[str, Any] = {"uuid": row.uuid, "name": row.new_name, "changes": []}
            if row.old_sha256 != row.new_sha256:
                item["changes"].append("file")
                item["file"] = {"before": row.old_sha256, "after": row.new_sha256}
            if row.old_name != row.new_name:
                item["changes"].append("name")
                item["renamed"] = {"before": row.old_name, "after": row.new_name}
            for kind, was, now in (
                ("metadata", metadata.get(row.old_row, {}), metadata.get(row.new_row, {})),
                ("segments", segments.get(row.old_row, []), segments.get(row.new_row, [])),
            ):
                if was != now:
                    item["changes"].append(kind)
                    item[kind] = {"before": was, "after": now}
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
