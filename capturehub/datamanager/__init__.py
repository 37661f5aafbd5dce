"""The objects a client works with: projects, their captures, and each capture.

Module paths mirror the seed API (``datamanager.captures.Captures``,
``datamanager.capture.Capture``) so code written against it reads the same.
"""

from capturehub.datamanager.capture import Capture
from capturehub.datamanager.captures import Captures
from capturehub.datamanager.dataset import ImportEvent, ImportReport
from capturehub.datamanager.export import ExportReport
from capturehub.datamanager.labels import Label
from capturehub.datamanager.metadata import CaptureMetadata
from capturehub.datamanager.project import Project, Projects
from capturehub.datamanager.recordings import Recording, Recordings
from capturehub.datamanager.segments import CaptureSegments, Segment

__all__ = [
    "Capture",
    "CaptureMetadata",
    "CaptureSegments",
    "Captures",
    "ExportReport",
    "ImportEvent",
    "ImportReport",
    "Label",
    "Project",
    "Projects",
    "Recording",
    "Recordings",
    "Segment",
]
