"""capturehub: a self-hostable home for sensor-data recordings, and its Python SDK.

``import capturehub`` loads only the SDK and its light dependencies (httpx); pandas and pyarrow
are imported when a DataFrame is first asked for, and the server's dependencies never.
"""

from capturehub._version import __version__
from capturehub.client import Client
from capturehub.datamanager import (
    Capture,
    CaptureMetadata,
    Captures,
    CaptureSegments,
    ExportReport,
    ImportEvent,
    ImportReport,
    Label,
    Project,
    Projects,
    Recording,
    Recordings,
    Segment,
)
from capturehub.exceptions import (
    APIError,
    AuthenticationError,
    BulkUploadError,
    CaptureExistsError,
    CapturehubError,
    CaptureUploadFailureError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    ServerError,
    ServerUnreachableError,
    ValidationError,
)

__all__ = [
    "APIError",
    "AuthenticationError",
    "BulkUploadError",
    "Capture",
    "CaptureExistsError",
    "CaptureMetadata",
    "CaptureSegments",
    "CaptureUploadFailureError",
    "CapturehubError",
    "Captures",
    "Client",
    "ConflictError",
    "ExportReport",
    "ImportEvent",
    "ImportReport",
    "Label",
    "NotFoundError",
    "PermissionDeniedError",
    "Project",
    "Projects",
    "Recording",
    "Recordings",
    "RequestTimeoutError",
    "Segment",
    "ServerError",
    "ServerUnreachableError",
    "ValidationError",
    "__version__",
]
