"""Small helpers shared by the server tests."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.conftest import RunningServer


def upload(
    api: httpx.Client,
    project_uuid: str,
    path: Path,
    *,
    name: str | None = None,
    asynchronous: bool = True,
    **fields: str,
) -> httpx.Response:
    with open(path, "rb") as handle:
        return api.post(
            f"project/{project_uuid}/capture/",
            data={"name": name or path.name, "asynchronous": str(asynchronous), **fields},
            files={"file": (path.name, handle)},
        )


def wait_done(
    api: httpx.Client, project_uuid: str, capture_uuid: str, timeout: float = 60
) -> dict[str, Any]:
    """Poll until the capture leaves SENT/STARTED; return it."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        capture: dict[str, Any] = api.get(f"project/{project_uuid}/capture/{capture_uuid}/").json()
        if not seen or seen[-1] != capture["task_state"]:
            seen.append(capture["task_state"])
        if capture["task_state"] in ("SUCCESS", "FAILURE"):
            capture["_states_seen"] = seen
            return capture
        time.sleep(0.05)
    raise AssertionError(f"capture {capture_uuid} still {seen[-1]} after {timeout} s")


def insert_capture_rows(
    server: RunningServer, project_uuid: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Capture rows written straight into the server's database, for tests that need many
    captures or values no upload produces, without files behind them.

    Each row is a dict of ``Capture`` columns; the project's id is added here. The project's
    ``capture_count`` is raised in the same transaction, as the upload service does, so the
    capture list's count stays true."""
    from sqlalchemy import insert, select, update

    from capturehub.server.models import Capture, Project

    context = server.process.context()
    try:
        with context.db.session() as session:
            project_id = session.scalars(
                select(Project.id).where(Project.uuid == project_uuid)
            ).one()
            session.execute(insert(Capture), [{**row, "project_id": project_id} for row in rows])
            session.execute(
                update(Project)
                .where(Project.id == project_id)
                .values(capture_count=Project.capture_count + len(rows))
            )
    finally:
        context.db.dispose()


def insert_captures(server: RunningServer, project_uuid: str, count: int) -> None:
    """``count`` processed captures named ``bulk-NNNNN.csv`` (uploading 5,000 files would
    take minutes)."""
    started = datetime(2026, 1, 1, tzinfo=UTC)
    insert_capture_rows(
        server,
        project_uuid,
        [
            {
                "name": f"bulk-{i:05d}.csv",
                "format": ".csv",
                "file_size": 100 + i % 7,
                "sha256": "0" * 64,
                "blob_key": f"test/bulk-{i}",
                "number_samples": i % 13,
                "task_state": "SUCCESS",
                "schema": {},
                "statistics": {},
                "created_at": started + timedelta(milliseconds=i),
                "last_modified": started + timedelta(milliseconds=i),
            }
            for i in range(count)
        ],
    )
