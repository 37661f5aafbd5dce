"""`capturehub fsck` in-process: the metadata rows' copy of their capture's created_at (the order
of a metadata-filtered list), and repairs larger than one statement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from capturehub.server import fsck as fsck_module
from capturehub.server.fsck import fsck
from capturehub.server.models import Capture, CaptureMetadataValue
from tests.conftest import RunningServer


def _upload(api: httpx.Client, project: str, name: str) -> str:
    """A small capture, processed; its uuid."""
    uploaded = api.post(
        f"project/{project}/capture/",
        data={"name": name, "asynchronous": "False"},
        files={"file": (name, b"ax\n1\n2\n")},
    )
    assert uploaded.status_code == 201, uploaded.text
    return str(uploaded.json()["uuid"])


def _first_pages(api: httpx.Client, project: str, **params: Any) -> list[str]:
    """The names on each page of one capture: the order the pages are chosen in."""
    names = []
    for offset in range(3):
        query = {**params, "limit": 1, "offset": offset}
        page = api.get(f"project/{project}/capture/", params=query).json()
        names += [capture["name"] for capture in page["results"]]
    return names


def test_fsck_repairs_a_metadata_row_s_copy_of_its_capture_s_date(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    api.post(f"project/{p}/metadata/", json={"name": "Group", "values": ["all"]})
    for index in range(3):
        tagged = api.post(
            f"project/{p}/metadata-relationship/",
            json=[
                {
                    "capture": _upload(api, p, f"cap-{index}.csv"),
                    "label": "Group",
                    "label_value": "all",
                }
            ],
        )
        assert tagged.status_code < 300, tagged.text
    in_order = ["cap-0.csv", "cap-1.csv", "cap-2.csv"]
    assert _first_pages(api, p) == in_order
    assert _first_pages(api, p, **{"metadata.Group": "all"}) == in_order

    context = server.process.context()
    try:
        with context.db.session() as session:  # the first capture's copy, a day late
            first = session.scalars(select(Capture).where(Capture.name == "cap-0.csv")).one()
            session.execute(
                update(CaptureMetadataValue)
                .where(CaptureMetadataValue.capture_id == first.id)
                .values(capture_created_at=first.created_at + timedelta(days=1))
            )
        # The filtered list now pages the first capture last.
        assert _first_pages(api, p, **{"metadata.Group": "all"})[-1] == "cap-0.csv"
        report = fsck(context)
        assert report.misdated_metadata == 1
        assert not report.clean
        fsck(context, repair=True)
        assert fsck(context).misdated_metadata == 0
    finally:
        context.db.dispose()
    assert _first_pages(api, p, **{"metadata.Group": "all"}) == in_order


def test_a_repair_runs_in_slices(
    server: RunningServer,
    api: httpx.Client,
    project: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Captures whose files are gone are marked FAILURE however many there are (a statement
    carries at most 65,535 parameters on PostgreSQL): here five, two a statement."""
    p = project["uuid"]
    uuids = [_upload(api, p, f"lost-{index}.csv") for index in range(5)]
    monkeypatch.setattr(fsck_module, "REPAIR_CHUNK", 2)
    context = server.process.context()
    try:
        with context.db.read() as session:
            keys = session.scalars(select(Capture.blob_key).where(Capture.uuid.in_(uuids))).all()
        for key in keys:
            context.blobs.delete(key)
        report = fsck(context, repair=True)
        assert set(uuids) <= set(report.missing_originals)  # (the server is shared)
    finally:
        context.db.dispose()
    for uuid in uuids:
        capture = api.get(f"project/{p}/capture/{uuid}/").json()
        assert capture["task_state"] == "FAILURE"
        assert "missing" in capture["task_result"]
