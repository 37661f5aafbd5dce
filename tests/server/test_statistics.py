"""``project/{p}/statistics/`` (wire-api §7) on real watch captures, and its query budget."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert, select

from tests.conftest import RunningServer
from tests.server.helpers import upload
from tests.server.test_segments import EXERCISES, import_watch, subject_age, watch_manifest

KEYS = {
    "capture_name",
    "capture_uuid",
    "total_event_count",
    "event_labels",
    "metadata",
    "number_samples",
    "set_sample_rate",
    "calculated_sample_rate",
    "duration_s",
    "file_size",
    "task_state",
}


def test_statistics_of_watch_captures(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    p = project["uuid"]
    entries = watch_manifest(shared_data, per_exercise=2)
    imported = import_watch(api, p, shared_data, entries)
    # A capture with no metadata and no segments, and an awkward name: still the same keys.
    bare = upload(
        api,
        p,
        shared_data / "watch" / "captures" / "S01_0_ABD_007.csv",
        name='bare "quoted" ünïcode',
        asynchronous=False,
    ).json()
    response = api.get(f"project/{p}/statistics/")
    assert response.status_code == 200
    rows = json.loads(response.text)  # valid JSON, whatever the names
    assert len(rows) == len(entries) + 1
    assert all(set(row) == KEYS for row in rows)
    by_uuid = {row["capture_uuid"]: row for row in rows}
    totals: Counter[str] = Counter()
    for entry in entries:
        capture = imported["captures"][entry["file"]]
        row = by_uuid[capture["uuid"]]
        (segment,) = entry["segments"]
        assert row["capture_name"] == capture["name"]
        assert row["total_event_count"] == 1
        # Every value of the label, zeros included, in the label's order.
        assert [v["value"] for v in row["event_labels"]["Exercise"]] == list(EXERCISES)
        counts = {v["value"]: v["count"] for v in row["event_labels"]["Exercise"]}
        assert counts == {e: int(e == segment["value"]) for e in EXERCISES}
        totals.update({value: count for value, count in counts.items()})
        subject = entry["metadata"]["Subject"]
        assert row["metadata"] == {
            "Subject": subject,
            "Side": entry["metadata"]["Side"],
            "Age": subject_age(subject),  # an integer key gives numbers
        }
        assert row["number_samples"] == segment["end"] + 1
        assert row["set_sample_rate"] == 50
        assert row["duration_s"] == pytest.approx((segment["end"] + 1) / 50)
        assert row["file_size"] == capture["file_size"]
        assert row["task_state"] == "SUCCESS"
    # The per-value totals equal the manifest's.
    assert totals == Counter(e["segments"][0]["value"] for e in entries)
    empty = by_uuid[bare["uuid"]]
    assert empty["capture_name"] == 'bare "quoted" ünïcode'
    assert empty["total_event_count"] == 0
    assert empty["metadata"] == {"Subject": None, "Side": None, "Age": None}
    assert all(v["count"] == 0 for v in empty["event_labels"]["Exercise"])
    # The SensiML SDK sends a JSON body with this GET; the answer is the same.
    with_body = api.request("GET", f"project/{p}/statistics/", json={"events": False})
    assert with_body.status_code == 200
    assert with_body.json() == rows


def test_statistics_of_an_empty_project(api: httpx.Client, project: dict[str, Any]) -> None:
    assert api.get(f"project/{project['uuid']}/statistics/").json() == []


@pytest.fixture
def statement_counter(server: RunningServer) -> Iterator[tuple[Any, list[str]]]:
    """An in-process handle on the server's database that records the SQL it runs."""
    context = server.process.context()
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(context.db.engine, "before_cursor_execute", record)
    try:
        yield context, statements
    finally:
        event.remove(context.db.engine, "before_cursor_execute", record)
        context.db.dispose()


def test_statistics_cost_a_fixed_number_of_queries(
    server: RunningServer,
    api: httpx.Client,
    project: dict[str, Any],
    shared_data: Path,
    statement_counter: tuple[Any, list[str]],
) -> None:
    from capturehub.server.models import Capture, Project, Segment
    from capturehub.server.statistics.service import statistics_chunks

    context, statements = statement_counter
    p = project["uuid"]
    entries = watch_manifest(shared_data, per_exercise=1)
    imported = import_watch(api, p, shared_data, entries)

    def count_queries() -> tuple[int, list[Any]]:
        statements.clear()
        with context.db.read() as session:
            project_row = session.scalars(select(Project).where(Project.uuid == p)).one()
            statements.clear()
            rows = json.loads(b"".join(statistics_chunks(session, project_row)))
        return len(statements), rows

    few, rows = count_queries()
    assert len(rows) == len(entries)
    # Ten times as many captures, each with segments: the same number of queries.
    template = imported["captures"][entries[0]["file"]]
    with context.db.session() as session:
        project_id = session.scalars(select(Project.id).where(Project.uuid == p)).one()
        capture_ids = session.scalars(
            insert(Capture).returning(Capture.id),
            [
                {
                    "project_id": project_id,
                    "name": f"generated-{i}",
                    "format": ".csv",
                    "file_size": 1,
                    "sha256": "0" * 64,
                    "blob_key": f"none-{i}",
                    "number_samples": 100,
                    "max_sequence": 99,
                    "task_state": "SUCCESS",
                }
                for i in range(10 * len(entries))
            ],
        ).all()
        segment = session.scalars(
            select(Segment).join(Capture).where(Capture.uuid == template["uuid"])
        ).one()
        session.execute(
            insert(Segment),
            [
                {
                    "capture_id": capture_id,
                    "label_id": segment.label_id,
                    "label_value_id": segment.label_value_id,
                    "start": 0,
                    "end": 50,
                }
                for capture_id in capture_ids
                for _ in range(3)
            ],
        )
    many, rows = count_queries()
    assert len(rows) == 11 * len(entries)
    assert many == few <= 6
    generated = [row for row in rows if row["capture_name"].startswith("generated-")]
    assert all(row["total_event_count"] == 3 for row in generated)
