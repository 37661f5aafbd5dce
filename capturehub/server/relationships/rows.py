"""Reading and deleting relationship rows (metadata values, segments): written once for both.

Each kind describes its table, its noun and the query of its JSON rows; one, several or all
of a project's (or a capture's) rows are then found, listed or deleted the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, delete, select
from sqlalchemy.orm import Session

from capturehub.server.errors import NotFound
from capturehub.server.labels.versions import CHUNK, bump_captures, lock_captures
from capturehub.server.models import Capture, Project
from capturehub.server.relationships.resolve import CaptureRow


@dataclass(frozen=True)
class RelationshipKind:
    """One kind of relationship row: ``model`` has ``id``, ``uuid`` and ``capture_id``."""

    model: Any
    noun: str  # "segment", "metadata relationship"
    select_rows: Callable[[int], Select[Any]]  # a project's rows, with what their JSON shows
    to_json: Callable[[Row[Any]], dict[str, Any]]

    def listed(self, project: Project, capture: CaptureRow | None = None) -> Select[Any]:
        """The project's rows (or the capture's), in the list's order."""
        query = self.select_rows(project.id)
        if capture is not None:
            query = query.where(self.model.capture_id == capture.id)
        return query

    def get(
        self, session: Session, project: Project, uuid: str, capture: CaptureRow | None = None
    ) -> dict[str, Any]:
        """One row's JSON; a 404 if it is not the project's (or the capture's)."""
        row = session.execute(self.listed(project, capture).where(self.model.uuid == uuid)).first()
        if row is None:
            raise NotFound(f"No {self.noun} {uuid} here.")
        return self.to_json(row)

    def delete(
        self,
        session: Session,
        project: Project,
        uuids: list[str],
        *,
        capture: CaptureRow | None = None,
    ) -> int:
        """Delete these rows (all or none: an unknown uuid is a 404 naming it)."""
        model = self.model
        wanted = sorted(set(uuids))
        found: dict[str, tuple[int, int]] = {}
        for start in range(0, len(wanted), CHUNK):
            query = (
                select(model.uuid, model.id, model.capture_id)
                .join(Capture, Capture.id == model.capture_id)
                .where(
                    Capture.project_id == project.id, model.uuid.in_(wanted[start : start + CHUNK])
                )
            )
            if capture is not None:
                query = query.where(model.capture_id == capture.id)
            for row_uuid, row_id, capture_id in session.execute(query):
                found[row_uuid] = (row_id, capture_id)
        missing = [uuid for uuid in wanted if uuid not in found]
        if missing:
            raise NotFound(
                f"No {self.noun} {', '.join(missing[:10])} here"
                + (f" (and {len(missing) - 10} more)." if len(missing) > 10 else ".")
            )
        # Captures first, then their rows: the order a capture's deletion takes.
        captures = {capture_id for _, capture_id in found.values()}
        lock_captures(session, captures)
        ids = sorted(row_id for row_id, _ in found.values())
        for start in range(0, len(ids), CHUNK):
            session.execute(delete(model).where(model.id.in_(ids[start : start + CHUNK])))
        bump_captures(session, captures)
        return len(ids)
