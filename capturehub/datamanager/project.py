"""Projects: the containers of captures, one namespace of capture names per project."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from capturehub._transport import Connection, json_body
from capturehub.datamanager._wire import parse_time, segment
from capturehub.exceptions import ConflictError, NotFoundError, ServerError

if TYPE_CHECKING:
    import pandas as pd

    from capturehub.datamanager.captures import Captures
    from capturehub.datamanager.devices import Devices
    from capturehub.datamanager.export import ExportReport
    from capturehub.datamanager.recordings import Recordings
    from capturehub.datamanager.versions import Versions


class Project:
    """One project of the caller's team; ``project.captures`` holds its captures."""

    def __init__(self, connection: Connection, info: dict[str, Any]) -> None:
        self._connection = connection
        self._info = dict(info)
        self._captures: Captures | None = None
        self._versions: Versions | None = None
        self._recordings: Recordings | None = None
        self._devices: Devices | None = None

    @property
    def uuid(self) -> str:
        return str(self._info.get("uuid", ""))

    @property
    def name(self) -> str:
        return str(self._info.get("name", ""))

    @property
    def created_at(self) -> datetime | None:
        return parse_time(self._info.get("created_at"))

    @property
    def last_modified(self) -> datetime | None:
        return parse_time(self._info.get("last_modified"))

    @property
    def description(self) -> str | None:
        value = self._info.get("description")
        return None if value is None else str(value)

    @property
    def capture_sample_schema(self) -> dict[str, Any]:
        """Column name → ``{"type": "int"|"float"}``: the union of the captures' columns."""
        return dict(self._info.get("capture_sample_schema") or {})

    @property
    def info(self) -> dict[str, Any]:
        """Every field the server sent for this project (a copy)."""
        return dict(self._info)

    @property
    def captures(self) -> Captures:
        """The project's :class:`~capturehub.datamanager.captures.Captures`."""
        if self._captures is None:
            from capturehub.datamanager.captures import Captures

            self._captures = Captures(self._connection, self)
        return self._captures

    @property
    def recordings(self) -> Recordings:
        """The project's live recordings
        (:class:`~capturehub.datamanager.recordings.Recordings`): ``start(name, channels,
        sample_rate)``, ``list()``, ``get(uuid)``."""
        if self._recordings is None:
            from capturehub.datamanager.recordings import Recordings

            self._recordings = Recordings(self._connection, self)
        return self._recordings

    @property
    def devices(self) -> Devices:
        """The devices recording into the project over MQTT
        (:class:`~capturehub.datamanager.devices.Devices`): ``create(name)`` (answers its
        key, once), ``list()``, ``delete(name)``."""
        if self._devices is None:
            from capturehub.datamanager.devices import Devices

            self._devices = Devices(self._connection, self)
        return self._devices

    @property
    def versions(self) -> Versions:
        """The project's dataset versions (:class:`~capturehub.datamanager.versions.Versions`):
        ``create(name, where=None, description="")``, ``list()``, ``get(name)``."""
        if self._versions is None:
            from capturehub.datamanager.versions import Versions

            self._versions = Versions(self._connection, self)
        return self._versions

    def edge_impulse_hmac_key(self) -> str:
        """The project's HMAC key: devices sign Edge Impulse acquisition documents with it
        (HS256), and the server marks each upload's signature valid or invalid
        (docs/edge-impulse.md)."""
        response = self._connection.request(
            "GET", f"project/{segment(self.uuid)}/edge-impulse/hmac-key/"
        )
        return str(json_body(response)["hmac_key"])

    def export(
        self,
        out_dir: str | os.PathLike[str],
        *,
        format: str = "parquet",
        where: Mapping[str, Any] | None = None,
        workers: int = 8,
        progress: Callable[[int, int], None] | None = None,
    ) -> ExportReport:
        """Write the samples, metadata and segments of the project's processed captures (those
        matching ``where``, filters as for :meth:`Captures.query`) into ``out_dir`` as files
        pandas, pyarrow or numpy load in one line; answer an :class:`ExportReport`.

        ``format`` is ``"parquet"`` (``samples.parquet``, ``metadata.parquet``,
        ``segments.parquet``), ``"csv"`` (the same tables as CSV) or ``"npz"`` (one
        ``samples/<file>.npz`` per capture, with ``metadata.csv`` and ``segments.csv``); a
        ``README.md`` describes the folder. Samples are fetched ``workers`` captures at a time;
        ``progress(done, total)`` is called (in the calling thread) before the first and after
        each capture. Captures not processed (or failed) are left out and named in the report.
        """
        from capturehub.datamanager.export import export_project

        return export_project(
            self, out_dir, format=format, where=where, workers=workers, progress=progress
        )

    def refresh(self) -> httpx.Response:
        """Reload this project's fields from the server."""
        response = self._connection.request("GET", f"project/{segment(self.uuid)}/")
        self._info = json_body(response)
        return response

    def delete(self) -> httpx.Response:
        """Delete the project and every capture in it, files included."""
        return self._connection.request("DELETE", f"project/{segment(self.uuid)}/")

    def __repr__(self) -> str:
        return f"<Project name={self.name!r} uuid={self.uuid!r}>"


class Projects:
    """The caller's team's projects."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def __iter__(self) -> Iterator[Project]:
        return iter(self.get_projects())

    def get_projects(self) -> list[Project]:
        """Every project of the caller's team, fresh from the server."""
        body = self._connection.get_json("project/")
        if not isinstance(body, list):
            raise ServerError(f"unexpected answer from project/: {body!r:.200}")
        return [Project(self._connection, item) for item in body]

    def get_project_by_name(self, name: str) -> Project | None:
        """The project named ``name``, or None. Asks the server every time."""
        # §4 defines no filter for project/; ?name= is a hint a server may honour, and the
        # exact match below keeps the answer right either way.
        body = self._connection.get_json("project/", params={"name": name})
        items = body if isinstance(body, list) else body.get("results", [])
        for item in items:
            if item.get("name") == name:
                return Project(self._connection, item)
        return None

    def get_project_by_uuid(self, uuid: str) -> Project | None:
        """The project with this uuid, or None when the caller's team has none such."""
        try:
            body = self._connection.get_json(f"project/{segment(uuid)}/")
        except NotFoundError:
            return None
        return Project(self._connection, body)

    def create_project(self, name: str, *, description: str | None = None) -> Project:
        """Create a project; :class:`~capturehub.exceptions.ConflictError` if the name is taken."""
        payload: dict[str, Any] = {"name": name}
        if description is not None:
            payload["description"] = description
        response = self._connection.request("POST", "project/", json=payload)
        return Project(self._connection, json_body(response))

    def get_or_create(self, name: str) -> Project:
        """The project named ``name``, created when missing (race-safe)."""
        project = self.get_project_by_name(name)
        if project is not None:
            return project
        try:
            return self.create_project(name)
        except ConflictError:  # created concurrently by someone else: use theirs
            project = self.get_project_by_name(name)
            if project is None:
                raise
            return project

    def to_dataframe(self) -> pd.DataFrame:
        """One row per project: name, uuid, created_at, last_modified, description."""
        from capturehub.datamanager._frames import projects_frame

        return projects_frame(project.info for project in self.get_projects())
