"""Dataset versions: pin exactly the data a model is trained on, and read it back, forever.

::

    v1 = client.project.versions.create("v1", where={"Subject__in": ["S01", "S02"]})
    X, y, groups = v1.windows("Exercise", size=100, step=50)
    v1.content_hash                       # prove later the data is unchanged
    client.project.versions.get("v1").verify()

A version is made on the server from rows only (no file is copied); deleting, replacing or
relabelling captures afterwards changes the project, never the version (docs/sdk.md,
"Train on exactly this").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from capturehub._transport import Connection, json_body
from capturehub.datamanager._wire import parse_time, segment
from capturehub.datamanager.capture import Capture
from capturehub.datamanager.content_hash import hash_of_listing
from capturehub.datamanager.query import query_parameters
from capturehub.exceptions import CapturehubError, ServerError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from capturehub.datamanager.export import ExportReport
    from capturehub.datamanager.project import Project


class VersionSegment(NamedTuple):
    """A segment as the version holds it: sample indices ``start`` to ``end``, both included."""

    label: str
    value: str
    start: int
    end: int


class VersionCapture(Capture):
    """A capture as a version holds it: read only. ``download()`` and ``get_data()`` read the
    files the version pins; ``metadata`` and ``segments`` are those of that moment."""

    def __init__(
        self, connection: Connection, project: Project, version: Version, info: dict[str, Any]
    ) -> None:
        super().__init__(connection, project)
        self._info = dict(info)
        self._version = version

    @property
    def metadata(self) -> dict[str, str]:  # type: ignore[override]  # read only: a copy
        return dict(self._info.get("metadata") or {})

    @property
    def segments(self) -> list[VersionSegment]:  # type: ignore[override]
        return [
            VersionSegment(str(s["label"]), str(s["value"]), int(s["start"]), int(s["end"]))
            for s in self._info.get("segments") or []
        ]

    @property
    def sha256(self) -> str:
        return str(self._info.get("sha256") or "")

    def _url(self, suffix: str = "") -> str:
        return self._version._path(f"capture/{segment(self.uuid)}/{suffix}")

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise CapturehubError(
            f"capture {self.name!r} belongs to version {self._version.name!r}, which never "
            "changes; change the project's capture instead (client.project.captures)"
        )

    insert = update = refresh = delete = _read_only

    def __repr__(self) -> str:
        return f"<VersionCapture name={self.name!r} version={self._version.name!r}>"


class Version:
    """One dataset version of a project (from :class:`Versions`)."""

    def __init__(self, connection: Connection, project: Project, info: dict[str, Any]) -> None:
        self._connection = connection
        self._project = project
        self._info = dict(info)

    # -- fields --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self._info.get("name", ""))

    @property
    def uuid(self) -> str:
        return str(self._info.get("uuid", ""))

    @property
    def description(self) -> str:
        return str(self._info.get("description") or "")

    @property
    def where(self) -> dict[str, str]:
        """The capture-list filters that chose the captures ({} for the whole project)."""
        return dict(self._info.get("where") or {})

    @property
    def created_at(self) -> datetime | None:
        return parse_time(self._info.get("created_at"))

    @property
    def content_hash(self) -> str:
        """SHA-256 of the version's canonical listing (capturehub/datamanager/content_hash.py):
        the same data gives the same hash, on any server."""
        return str(self._info.get("content_hash", ""))

    @property
    def capture_count(self) -> int:
        return int(self._info.get("captures") or 0)

    @property
    def sample_count(self) -> int:
        return int(self._info.get("samples") or 0)

    @property
    def segment_count(self) -> int:
        return int(self._info.get("segments") or 0)

    @property
    def labels(self) -> dict[str, dict[str, int]]:
        """Segments per label and value: ``{"Exercise": {"PEN": 20, ...}}``."""
        return {k: dict(v) for k, v in (self._info.get("labels") or {}).items()}

    @property
    def info(self) -> dict[str, Any]:
        return dict(self._info)

    # -- reading -------------------------------------------------------------------------------

    def listing(self) -> list[dict[str, Any]]:
        """The version's captures as the server lists them (JSON objects with ``metadata``
        and ``segments``), in name order."""
        body = self._connection.get_json(self._path("capture/"))
        if not isinstance(body, list):
            raise ServerError(f"unexpected answer listing version {self.name!r}: {body!r:.200}")
        return body

    def captures(self) -> list[VersionCapture]:
        """The version's captures as they were (read only), in name order."""
        return [
            VersionCapture(self._connection, self._project, self, info) for info in self.listing()
        ]

    def get_data(self, *, workers: int = 8) -> dict[str, pd.DataFrame]:
        """Every processed capture's samples: ``{capture name: DataFrame}``, in name order,
        fetched ``workers`` captures at a time."""
        from capturehub.datamanager._export_files import fetch_in_order

        ready = [c for c in self.captures() if c.task_state == "SUCCESS"]
        return {
            capture.name: frame
            for capture, frame in fetch_in_order(ready, lambda c: c.get_data(), workers)
        }

    def windows(
        self, label: str, size: int, step: int, *, workers: int = 8
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fixed-size windows cut inside each segment of ``label`` (see
        :func:`capturehub.datamanager.windows.cut_windows`): ``X`` shaped (windows, size,
        channels), ``y`` the segments' values, ``groups`` the capture of each window (split by
        it to keep recordings apart)."""
        from capturehub.datamanager.windows import version_windows

        return version_windows(self, label, size, step, workers=workers)

    def verify(self) -> bool:
        """Recompute the content hash from what the server lists now and compare it with the
        hash the version was made with."""
        return hash_of_listing(self.listing()) == self.content_hash

    def diff(self, other: Version | str) -> dict[str, Any]:
        """What changed from this version to ``other`` (a Version or its name): ``added``,
        ``removed``, ``changed`` (each with ``changes``: file, name, metadata, segments, and
        before/after), ``labels`` (segment counts on each side)."""
        name = other.name if isinstance(other, Version) else str(other)
        body = self._connection.get_json(self._path(f"diff/{segment(name)}/"))
        if not isinstance(body, dict):
            raise ServerError(f"unexpected diff answer: {body!r:.200}")
        return body

    def export(
        self,
        out_dir: str | os.PathLike[str],
        *,
        format: str = "parquet",
        workers: int = 8,
        progress: Callable[[int, int], None] | None = None,
    ) -> ExportReport:
        """Write the version's processed captures as :meth:`Project.export` does (same
        formats and layout), plus ``version.json``: the version's name, content hash and
        listing, from which :func:`~capturehub.datamanager.content_hash.hash_of_listing`
        recomputes the hash."""
        from capturehub.datamanager.version_export import export_version

        return export_version(self, out_dir, format=format, workers=workers, progress=progress)

    def delete(self) -> httpx.Response:
        """Delete the version; files only it kept are freed on the server."""
        return self._connection.request("DELETE", self._path())

    def refresh(self) -> None:
        self._info = json_body(self._connection.request("GET", self._path()))

    def _path(self, suffix: str = "") -> str:
        return f"project/{segment(self._project.uuid)}/versions/{segment(self.uuid)}/{suffix}"

    def __repr__(self) -> str:
        return (
            f"<Version name={self.name!r} captures={self.capture_count} "
            f"hash={self.content_hash[:12]!r}>"
        )


class Versions:
    """The dataset versions of a project: ``project.versions``."""

    def __init__(self, connection: Connection, project: Project) -> None:
        self._connection = connection
        self._project = project

    @property
    def _base(self) -> str:
        return f"project/{segment(self._project.uuid)}/versions/"

    def create(
        self, name: str, where: Mapping[str, Any] | None = None, description: str = ""
    ) -> Version:
        """Pin the captures ``where`` selects (filters as for ``Captures.query``; None: the
        whole project) as version ``name``. ConflictError if the name is taken."""
        body: dict[str, Any] = {"name": name, "description": description}
        if where:
            body["where"] = query_parameters(where)
        response = self._connection.request("POST", self._base, json=body)
        return Version(self._connection, self._project, json_body(response))

    def list(self) -> list[Version]:
        """Every version of the project, oldest first."""
        body = self._connection.get_json(self._base)
        if not isinstance(body, list):
            raise ServerError(f"unexpected answer from {self._base}: {body!r:.200}")
        return [Version(self._connection, self._project, item) for item in body]

    def get(self, name: str) -> Version:
        """The version named ``name`` (or with that uuid); NotFoundError if none."""
        body = self._connection.get_json(self._base + segment(name) + "/")
        return Version(self._connection, self._project, body)

    def __iter__(self) -> Iterator[Version]:
        return iter(self.list())
