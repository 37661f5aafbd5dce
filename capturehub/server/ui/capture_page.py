"""What the capture page shows from the server: the capture, its channels' statistics, and
what the page's script needs to plot and label it (the signal, the segments and the metadata
are then read and changed through the REST API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from capturehub.server.auth.service import Caller
from capturehub.server.captures import service as captures
from capturehub.server.models import RECORDING, Capture, Project
from capturehub.server.projects.service import get_project

AUDIO_FORMATS = (".wav",)
STATISTICS = ("count", "min", "max", "mean", "std", "nan_count")


@dataclass
class CaptureView:
    project: Project
    capture: Capture

    @property
    def channels(self) -> list[str]:
        return [name for name in (self.capture.schema or {}) if name != "sequence"]

    @property
    def rate(self) -> float | None:
        rate: float | None = self.capture.set_sample_rate or self.capture.calculated_sample_rate
        return rate

    @property
    def duration_s(self) -> float | None:
        if self.rate and self.capture.number_samples:
            return self.capture.number_samples / self.rate
        return None

    @property
    def is_audio(self) -> bool:
        return self.capture.format.lower() in AUDIO_FORMATS

    @property
    def statistics(self) -> list[tuple[str, dict[str, Any]]]:
        stats = self.capture.statistics or {}
        return [(name, stats[name]) for name in self.channels if isinstance(stats.get(name), dict)]

    @property
    def ready(self) -> bool:
        return self.capture.task_state == "SUCCESS"

    @property
    def recording(self) -> bool:
        # Recorded live (server/recording/): plotted as it grows.
        return self.capture.task_state == RECORDING


def load_capture(
    session: Session, caller: Caller, project_uuid: str, capture_uuid: str
) -> CaptureView:
    project = get_project(session, caller, project_uuid)
    capture = captures.get_capture(session, caller, project_uuid, capture_uuid)
    return CaptureView(project=project, capture=capture)
