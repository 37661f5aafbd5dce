"""Every blob key the server makes, made here and only here, from uuids (never from a name a
user typed).

A capture's files live under ``captures/<project uuid>/<capture uuid>/``: its original as
uploaded (``original-<upload id>``), the columnar copy processing makes of it
(``columnar-<upload id>.arrow``) and that copy's plot pyramid (``plot-pyramid-<upload
id>.arrow``). The upload id makes every stored version distinct, so
replacing a capture's file never overwrites bytes that a concurrent reader or a crash
recovery may still need.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

ROOT = "captures/"
_ORIGINAL = re.compile(
    r"^captures/(?P<project>[^/]+)/(?P<capture>[^/]+)/original-(?P<upload>[^/]+)$"
)
# What a uuid the server made looks like; a capture id taken from a URL must be one before
# any key is made of it.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def project_prefix(project_uuid: str) -> str:
    """The prefix of every blob of one project."""
    return f"{ROOT}{project_uuid}/"


def is_uuid(text: str) -> bool:
    return bool(_UUID.match(text))


@dataclass(frozen=True)
class CaptureFiles:
    """The blob keys of one stored version of a capture's file."""

    project_uuid: str
    capture_uuid: str
    upload_id: str

    @classmethod
    def new(cls, project_uuid: str, capture_uuid: str) -> CaptureFiles:
        """Keys for a file about to be stored (a new upload, or a replacement)."""
        return cls(project_uuid, capture_uuid, uuid.uuid4().hex)

    @classmethod
    def of(cls, original_key: str) -> CaptureFiles:
        """The keys belonging with a stored original (a capture row's ``blob_key``)."""
        match = _ORIGINAL.match(original_key)
        if match is None:
            raise ValueError(f"not the key of a capture's original: {original_key!r}")
        return cls(match["project"], match["capture"], match["upload"])

    @property
    def original(self) -> str:
        return f"{ROOT}{self.project_uuid}/{self.capture_uuid}/original-{self.upload_id}"

    @property
    def columnar(self) -> str:
        return f"{ROOT}{self.project_uuid}/{self.capture_uuid}/columnar-{self.upload_id}.arrow"

    @property
    def plot_pyramid(self) -> str:
        """The min/max pyramid of the columnar copy (server/plots/pyramid.py)."""
        return f"{ROOT}{self.project_uuid}/{self.capture_uuid}/plot-pyramid-{self.upload_id}.arrow"

    @property
    def keys(self) -> list[str]:
        """Every key of this version, for deleting it."""
        return [self.original, self.columnar, self.plot_pyramid]
