"""The project page's figures: captures by state, samples and segments per label value, and
how the metadata values are spread over the captures (the API's project summary)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capturehub.server.auth.service import Caller
from capturehub.server.captures.schemas import TASK_STATES
from capturehub.server.models import Capture, Project
from capturehub.server.projects.service import get_project
from capturehub.server.statistics.service import project_summary


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label, its figure and its length as a share of the longest."""

    group: str
    label: str
    value: int
    share: float
    color: str = "#5B8FF9"


@dataclass
class Overview:
    project: Project
    states: dict[str, int]
    samples: int
    segment_bars: list[Bar]
    sample_bars: list[Bar]
    metadata_bars: list[Bar]


def _bars(rows: list[dict[str, Any]], group: str, label: str, figure: str) -> list[Bar]:
    longest = max((row[figure] for row in rows), default=0) or 1
    return [
        Bar(
            group=row[group],
            label=str(row[label]),
            value=int(row[figure]),
            share=row[figure] / longest,
            color=row.get("color") or "#5B8FF9",
        )
        for row in rows
    ]


def load_overview(session: Session, caller: Caller, project_uuid: str) -> Overview:
    project = get_project(session, caller, project_uuid)
    counted = dict(
        session.execute(
            select(Capture.task_state, func.count())
            .where(Capture.project_id == project.id)
            .group_by(Capture.task_state)
        ).all()
    )
    samples = session.scalar(
        select(func.coalesce(func.sum(Capture.number_samples), 0)).where(
            Capture.project_id == project.id
        )
    )
    summary = project_summary(session, project)
    return Overview(
        project=project,
        states={state: int(counted.get(state, 0)) for state in TASK_STATES},
        samples=int(samples or 0),
        segment_bars=_bars(summary["segments"], "label", "value", "segments"),
        sample_bars=_bars(summary["segments"], "label", "value", "samples"),
        metadata_bars=_bars(summary["metadata"], "key", "value", "captures"),
    )
