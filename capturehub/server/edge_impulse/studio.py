"""The part of Edge Impulse's Studio API its clients call, answered from a project's captures.

The field names follow the models of Edge Impulse's generated Python client (which validates
every answer); what capturehub has no notion of (bounding boxes, disabled samples, cropping)
is answered with the value that means "none".
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from capturehub.ingest import read_columnar
from capturehub.server.captures.intake import CaptureLifecycle
from capturehub.server.context import AppContext
from capturehub.server.edge_impulse.keys import ProjectCaller, hmac_key
from capturehub.server.edge_impulse.samples import (
    CATEGORY_KEY,
    DEVICE_NAME_KEY,
    DEVICE_TYPE_KEY,
    LABEL_KEY,
    SIGNATURE_KEY,
)
from capturehub.server.errors import BadRequest, NotFound
from capturehub.server.formats import timestamp
from capturehub.server.models import (
    RECORDING,
    Capture,
    CaptureMetadataValue,
    Label,
    LabelValue,
    Project,
    Segment,
)

LIST_CATEGORIES = ("training", "testing", "anomaly", "validation", "post-processing", "all")
# Metadata the mapping writes for Edge Impulse's own fields: not repeated as free metadata.
OWN_KEYS = (CATEGORY_KEY, SIGNATURE_KEY, DEVICE_TYPE_KEY, DEVICE_NAME_KEY, LABEL_KEY)
TIME_COLUMNS = ("sequence", "timestamp")


def project_json(project: Project, owner: str) -> dict[str, Any]:
    created = timestamp(project.created_at)
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description or "",
        "created": created,
        "lastModified": timestamp(project.last_modified),
        "owner": owner,
        "ownerIsDeveloperProfile": False,
        "collaborators": [],
        "labelingMethod": "single_label",
        "metadata": {},
        "isEnterpriseProject": False,
        "whitelabelId": None,
        "tier": "free",
        "hasPublicVersion": False,
        "isPublic": False,
        "allowsLivePublicAccess": False,
        "indPauseProcessingSamples": False,
        "publicProjectListed": False,
    }


class Studio:
    """Read and delete a project's samples as Edge Impulse's Studio API does."""

    def __init__(self, context: AppContext, who: ProjectCaller) -> None:
        self.context = context
        self.who = who

    def _project(self, session: Session, project_id: int) -> Project:
        """The key's project; any other id is "not found" (nothing of another project shows)."""
        project = session.get(Project, self.who.project_id)
        if project_id != self.who.project_id or project is None:
            raise NotFound(f"Project {project_id} not found.")
        return project

    def projects(self) -> dict[str, Any]:
        with self.context.db.read() as session:
            project = self._project(session, self.who.project_id)
            return {"success": True, "projects": [project_json(project, self.who.owner)]}

    def project(self, project_id: int) -> dict[str, Any]:
        with self.context.db.session() as session:
            project = self._project(session, project_id)
            return {
                "success": True,
                "project": project_json(project, self.who.owner),
                "developmentKeys": {"hmacKey": hmac_key(session, project.id)},
            }

    def hmac_key(self, project_id: int) -> dict[str, Any]:
        with self.context.db.session() as session:
            project = self._project(session, project_id)
            return {"success": True, "hmacKey": hmac_key(session, project.id)}

    # -- samples --------------------------------------------------------------------------

    def _filtered(
        self,
        session: Session,
        project: Project,
        category: str,
        labels: str | None,
        filename: str | None,
    ) -> Select[Any]:
        if category not in LIST_CATEGORIES:
            raise BadRequest(
                f"Unknown category {category!r}; use one of {', '.join(LIST_CATEGORIES)}."
            )
        query = select(Capture.id).where(Capture.project_id == project.id)
        if category != "all":
            query = query.where(
                Capture.id.in_(
                    _with_metadata(CATEGORY_KEY, project.id).where(LabelValue.value == category)
                )
            )
        wanted = _labels(labels)
        if wanted:
            label_name = self.context.settings.edge_impulse_label_name
            query = query.where(
                or_(
                    Capture.id.in_(
                        select(Segment.capture_id)
                        .join(Label, Label.id == Segment.label_id)
                        .join(LabelValue, LabelValue.id == Segment.label_value_id)
                        .where(
                            Label.project_id == project.id,
                            Label.name == label_name,
                            LabelValue.value.in_(wanted),
                        )
                    ),
                    Capture.id.in_(
                        _with_metadata(LABEL_KEY, project.id).where(LabelValue.value.in_(wanted))
                    ),
                )
            )
        if filename:
            query = query.where(Capture.name.contains(filename, autoescape=True))
        return query

    def count(
        self, project_id: int, category: str, labels: str | None, filename: str | None
    ) -> dict[str, Any]:
        with self.context.db.read() as session:
            project = self._project(session, project_id)
            ids = self._filtered(session, project, category, labels, filename).subquery()
            count = session.scalar(select(func.count()).select_from(ids)) or 0
            return {"success": True, "count": count}

    def samples(
        self,
        project_id: int,
        category: str,
        labels: str | None,
        filename: str | None,
        offset: int,
        limit: int | None,
    ) -> dict[str, Any]:
        with self.context.db.read() as session:
            project = self._project(session, project_id)
            ids = self._filtered(session, project, category, labels, filename)
            total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
            query = (
                select(Capture)
                .where(Capture.id.in_(ids))
                .order_by(Capture.id.desc())
                .offset(max(offset, 0))
            )
            if limit is not None:
                query = query.limit(max(limit, 0))
            captures = list(session.scalars(query))
            facts = SampleFacts.load(session, [c.id for c in captures], self.label_name)
            samples = [self._sample_json(project, c, facts) for c in captures]
            return {"success": True, "samples": samples, "totalCount": total}

    @property
    def label_name(self) -> str:
        return self.context.settings.edge_impulse_label_name

    def sample(self, project_id: int, sample_id: int, limit: int | None) -> dict[str, Any]:
        with self.context.db.read() as session:
            project = self._project(session, project_id)
            capture = self._capture(session, project, sample_id)
            facts = SampleFacts.load(session, [capture.id], self.label_name)
            sample = self._sample_json(project, capture, facts)
            columnar_key = capture.columnar_key
        values = self._values(columnar_key, sample["sensors"], limit)
        payload = {
            "device_name": sample.get("deviceName"),
            "device_type": sample["deviceType"],
            "sensors": sample["sensors"],
            "values": values,
            "intervalMs": sample["intervalMs"],
            "frequencyHz": sample["frequency"],
        }
        return {
            "success": True,
            "sample": sample,
            "payload": payload,
            "totalPayloadLength": sample["valuesCount"],
            "datastreamPayloads": [],
        }

    def _capture(self, session: Session, project: Project, sample_id: int) -> Capture:
        capture = session.scalar(
            select(Capture).where(Capture.project_id == project.id, Capture.id == sample_id)
        )
        if capture is None:
            raise NotFound(f"No sample found with ID {sample_id}")
        return capture

    def _values(
        self, columnar_key: str | None, sensors: list[dict[str, Any]], limit: int | None
    ) -> list[list[float | None]]:
        if columnar_key is None:
            return []
        end = limit if limit is not None and limit >= 0 else None
        with self.context.blobs.local_copy(columnar_key) as path:
            table = read_columnar(path, 0, end)
        columns = [table.column(sensor["name"]).to_pylist() for sensor in sensors]
        return [[_finite(value) for value in row] for row in zip(*columns, strict=True)]

    def _sample_json(
        self, project: Project, capture: Capture, facts: SampleFacts
    ) -> dict[str, Any]:
        metadata = facts.metadata.get(capture.id, {})
        segments = facts.segments.get(capture.id, [])
        rate = capture.set_sample_rate or capture.calculated_sample_rate
        interval = 1000.0 / rate if rate else 0.0
        count = capture.number_samples or 0
        sensors = [
            {"index": index, "name": name, "units": str(entry.get("units", "N/A"))}
            for index, (name, entry) in enumerate(
                (name, entry)
                for name, entry in (capture.schema or {}).items()
                if name not in TIME_COLUMNS
            )
        ]
        whole = len(segments) == 1 and segments[0][0] == 0 and segments[0][1] >= count - 1
        label = segments[0][2] if segments else metadata.get(LABEL_KEY, "")
        structured = (
            None
            if whole or not segments
            else [{"startIndex": s, "endIndex": e, "label": v} for s, e, v in segments]
        )
        signature = metadata.get(SIGNATURE_KEY)
        created = timestamp(capture.created_at)
        suffix = capture.format.lstrip(".")
        return {
            "id": capture.id,
            "filename": capture.name,
            "signatureValidate": signature == "valid",
            "signatureMethod": "HS256" if signature in ("valid", "invalid") else None,
            "created": created,
            "lastModified": timestamp(capture.last_modified),
            "category": metadata.get(CATEGORY_KEY, "training"),
            "coldstorageFilename": f"{project.uuid}/{capture.name}.{suffix}."
            f"{capture.sha256[:8]}.json",
            "label": label,
            "intervalMs": interval,
            "frequency": rate or 0.0,
            "originalIntervalMs": interval,
            "originalFrequency": rate or 0.0,
            "deviceName": metadata.get(DEVICE_NAME_KEY),
            "deviceType": metadata.get(DEVICE_TYPE_KEY, "capturehub"),
            "sensors": sensors,
            "valuesCount": count,
            "totalLengthMs": interval * count,
            "added": created,
            "boundingBoxes": [],
            "boundingBoxesType": "object_detection",
            "chartType": "chart",
            "isDisabled": False,
            "isProcessing": capture.task_state in ("SENT", "STARTED", RECORDING),
            "processingError": capture.task_state == "FAILURE",
            "processingErrorString": capture.task_result,
            "isCropped": False,
            "metadata": {k: v for k, v in metadata.items() if k not in OWN_KEYS},
            "projectId": project.id,
            "sha256Hash": capture.sha256,
            "structuredLabels": structured,
            "structuredLabelsList": sorted({v for _, _, v in segments}) if structured else None,
            "datastreams": [],
        }

    # -- deleting -------------------------------------------------------------------------

    def delete(self, project_id: int, sample_id: int) -> dict[str, Any]:
        with self.context.db.read() as session:
            project = self._project(session, project_id)
            capture_uuid = self._capture(session, project, sample_id).uuid
        CaptureLifecycle(self.context).delete(self.who.caller, self.who.project_uuid, capture_uuid)
        return {"success": True}

    def delete_all(self, project_id: int, category: str | None) -> dict[str, Any]:
        with self.context.db.read() as session:
            project = self._project(session, project_id)
            ids = self._filtered(session, project, category or "all", None, None)
            uuids = list(session.scalars(select(Capture.uuid).where(Capture.id.in_(ids))))
        lifecycle = CaptureLifecycle(self.context)
        for capture_uuid in uuids:
            with contextlib.suppress(NotFound):  # deleted meanwhile
                lifecycle.delete(self.who.caller, self.who.project_uuid, capture_uuid)
        return {"success": True}


@dataclass
class SampleFacts:
    """Metadata (key → value) and label segments (start, end, value) of some captures."""

    metadata: dict[int, dict[str, str]]
    segments: dict[int, list[tuple[int, int, str]]]

    @classmethod
    def load(cls, session: Session, capture_ids: list[int], label_name: str) -> SampleFacts:
        metadata: dict[int, dict[str, str]] = {}
        segments: dict[int, list[tuple[int, int, str]]] = {}
        for start in range(0, len(capture_ids), 1000):
            chunk = capture_ids[start : start + 1000]
            for capture_id, key, value in session.execute(
                select(CaptureMetadataValue.capture_id, Label.name, LabelValue.value)
                .join(Label, Label.id == CaptureMetadataValue.label_id)
                .join(LabelValue, LabelValue.id == CaptureMetadataValue.label_value_id)
                .where(CaptureMetadataValue.capture_id.in_(chunk))
            ):
                metadata.setdefault(capture_id, {})[key] = value
            for capture_id, first, last, value in session.execute(
                select(Segment.capture_id, Segment.start, Segment.end, LabelValue.value)
                .join(Label, Label.id == Segment.label_id)
                .join(LabelValue, LabelValue.id == Segment.label_value_id)
                .where(Segment.capture_id.in_(chunk), Label.name == label_name)
                .order_by(Segment.capture_id, Segment.start, Segment.id)
            ):
                segments.setdefault(capture_id, []).append((first, last, value))
        return cls(metadata=metadata, segments=segments)


def _with_metadata(key: str, project_id: int) -> Select[Any]:
    """Captures with a value for metadata ``key`` (filter it on ``LabelValue.value``)."""
    return (
        select(CaptureMetadataValue.capture_id)
        .join(Label, Label.id == CaptureMetadataValue.label_id)
        .join(LabelValue, LabelValue.id == CaptureMetadataValue.label_value_id)
        .where(Label.project_id == project_id, Label.name == key)
    )


def _labels(raw: str | None) -> list[str]:
    """The ``labels`` query parameter: a JSON list of label names (or ``null``)."""
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return [raw]
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    raise BadRequest("labels must be a JSON list of label names.")


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
