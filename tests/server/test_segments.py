"""Segments ("label relationships") over HTTP: real watch captures, bounds, states, bulk.

Bounds are inclusive sample indices, as in the watch manifest (whose whole-capture segments
end at ``n - 1``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.server.helpers import upload, wait_done

EXERCISES = ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW")


def watch_manifest(shared_data: Path, per_exercise: int = 2) -> list[dict[str, Any]]:
    """The first ``per_exercise`` recordings of each exercise, in manifest order."""
    manifest = json.loads((shared_data / "watch" / "manifest.json").read_text())
    taken: Counter[str] = Counter()
    chosen = []
    for entry in manifest:
        exercise = entry["segments"][0]["value"]
        if taken[exercise] < per_exercise:
            taken[exercise] += 1
            chosen.append(entry)
    return chosen


def subject_age(subject: str) -> int:
    """A made-up integer metadata value per subject (S01 → 23 ... S10 → 50)."""
    return 20 + 3 * int(subject[1:])


def import_watch(
    api: httpx.Client, project_uuid: str, shared_data: Path, entries: list[dict[str, Any]]
) -> dict[str, Any]:
    """Upload the recordings and give them the manifest's metadata and segments over HTTP.

    Returns the keys, labels and captures (``captures[file] = capture JSON``).
    """
    p = project_uuid
    subject = api.post(
        f"project/{p}/metadata/", json={"name": "Subject", "type": "string", "is_dropdown": False}
    ).json()
    side = api.post(
        f"project/{p}/metadata/", json={"name": "Side", "type": "string", "values": ["0", "1"]}
    ).json()
    age = api.post(
        f"project/{p}/metadata/", json={"name": "Age", "type": "integer", "is_dropdown": False}
    ).json()
    exercise = api.post(
        f"project/{p}/label/", json={"name": "Exercise", "type": "string", "values": EXERCISES}
    ).json()
    value_uuid = {v["value"]: v["uuid"] for v in exercise["label_values"]}
    captures: dict[str, dict[str, Any]] = {}
    for entry in entries:
        path = shared_data / "watch" / entry["file"]
        response = upload(
            api, p, path, asynchronous=False, set_sample_rate=str(entry["sample_rate_hz"])
        )
        assert response.status_code == 201, response.text
        captures[entry["file"]] = response.json()
    # Metadata for every capture in one project-wide request, as raw values: Subject and Age
    # values are created on the fly, Side's exist (it is a dropdown).
    bulk = []
    for entry in entries:
        c = captures[entry["file"]]["uuid"]
        meta = entry["metadata"]
        bulk += [
            {"capture": c, "label": subject["uuid"], "label_value": meta["Subject"]},
            {"capture": c, "label": side["uuid"], "label_value": meta["Side"]},
            {"capture": c, "label": age["uuid"], "label_value": subject_age(meta["Subject"])},
        ]
    response = api.post(f"project/{p}/metadata-relationship/", json=bulk)
    assert response.status_code == 201, response.text
    assert len(response.json()) == len(bulk)
    # One segment per capture, through the per-capture route, by value uuid.
    for entry in entries:
        (segment,) = entry["segments"]
        c = captures[entry["file"]]["uuid"]
        response = api.post(
            f"project/{p}/capture/{c}/label-relationship/",
            json={
                "label": exercise["uuid"],
                "label_value": value_uuid[segment["value"]],
                "capture_sample_sequence_start": segment["start"],
                "capture_sample_sequence_end": segment["end"],
            },
        )
        assert response.status_code == 201, response.text
    return {
        "subject": subject,
        "side": side,
        "age": age,
        "exercise": exercise,
        "values": value_uuid,
        "captures": captures,
    }


@pytest.fixture
def watch(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    entries = watch_manifest(shared_data, per_exercise=1)
    return entries, import_watch(api, project["uuid"], shared_data, entries)


def set_state(server: RunningServer, capture_uuid: str, state: str) -> None:
    """Put a capture in a processing state directly in the database (a fresh lease, so that the
    server's re-queue pass leaves it alone)."""
    from sqlalchemy import update

    from capturehub.server.models import Capture

    context = server.process.context()
    try:
        with context.db.session() as session:
            session.execute(
                update(Capture)
                .where(Capture.uuid == capture_uuid)
                .values(task_state=state, task_started_at=datetime.now(UTC))
            )
    finally:
        context.db.dispose()


def test_watch_segments_match_the_manifest(
    api: httpx.Client, project: dict[str, Any], watch: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    entries, imported = watch
    p = project["uuid"]
    for entry in entries:
        capture = imported["captures"][entry["file"]]
        (expected,) = entry["segments"]
        segments = api.get(f"project/{p}/capture/{capture['uuid']}/label-relationship/").json()
        assert len(segments) == 1
        (segment,) = segments
        assert segment["label"] == imported["exercise"]["uuid"]
        assert segment["label_value"] == imported["values"][expected["value"]]
        assert (segment["label_name"], segment["value"]) == ("Exercise", expected["value"])
        assert segment["capture_sample_sequence_start"] == expected["start"]
        assert segment["capture_sample_sequence_end"] == expected["end"]
        assert segment["capture"] == capture["uuid"]
        assert segment["segmenter"] is None
        # The whole-capture segment ends on the last sample: the bound is inclusive.
        assert expected["end"] == capture["max_sequence"]
        # Metadata (3 keys) and one segment each bumped the version of a fresh upload.
        after = api.get(f"project/{p}/capture/{capture['uuid']}/").json()
        assert after["version"] == capture["version"] + 2
    everything = api.get(f"project/{p}/label-relationship/").json()
    assert Counter(s["value"] for s in everything) == Counter(
        e["segments"][0]["value"] for e in entries
    )
    summary = api.get(f"project/{p}/summary/").json()
    rows = {row["value"]: row for row in summary["segments"]}
    assert set(rows) == set(EXERCISES)
    for exercise in EXERCISES:
        mine = [e["segments"][0] for e in entries if e["segments"][0]["value"] == exercise]
        assert rows[exercise]["segments"] == len(mine)
        assert rows[exercise]["samples"] == sum(s["end"] - s["start"] + 1 for s in mine)
        assert rows[exercise]["captures"] == len(mine)
    subjects = {
        row["value"]: row["captures"] for row in summary["metadata"] if row["key"] == "Subject"
    }
    assert subjects == dict(Counter(e["metadata"]["Subject"] for e in entries))


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        (
            {"capture_sample_sequence_start": 500, "capture_sample_sequence_end": 500},
            400,
            "capture_sample_sequence_start (500) must be less than capture_sample_sequence_end "
            "(500)",
        ),
        (
            {"capture_sample_sequence_start": 10, "capture_sample_sequence_end": 9},
            400,
            "must be less than",
        ),
        ({"capture_sample_sequence_start": -1}, 400, "sample indices start at 0"),
        (
            {"capture_sample_sequence_end": 100_000},
            400,
            "capture_sample_sequence_end (100000) is past the last sample of capture",
        ),
        ({"capture_sample_sequence_end": "ten"}, 400, "must be a whole number"),
        (
            {"label_value": "SQUAT"},
            400,
            "'SQUAT' is neither the uuid nor one of the values of the dropdown 'Exercise'",
        ),
        ({"label": "Subject"}, 400, "'Subject' is a metadata key, not a label"),
        ({"label": "Mood"}, 400, "This project has no label 'Mood'"),
    ],
)
def test_bad_segments_say_why(
    api: httpx.Client,
    project: dict[str, Any],
    watch: tuple[list[dict[str, Any]], dict[str, Any]],
    change: dict[str, Any],
    status: int,
    message: str,
) -> None:
    entries, imported = watch
    capture = imported["captures"][entries[0]["file"]]
    body = {
        "label": imported["exercise"]["uuid"],
        "label_value": imported["values"]["PEN"],
        "capture_sample_sequence_start": 0,
        "capture_sample_sequence_end": 100,
        **change,
    }
    url = f"project/{project['uuid']}/capture/{capture['uuid']}/label-relationship/"
    response = api.post(url, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    if "max_sequence" in message or "past the last sample" in message:
        assert f"max_sequence {capture['max_sequence']}" in response.json()["detail"]
    # Nothing was stored, and the version did not move.
    assert len(api.get(url).json()) == 1
    after = api.get(f"project/{project['uuid']}/capture/{capture['uuid']}/").json()
    assert after["version"] == capture["version"] + 2


def test_a_value_of_another_label_is_refused(
    api: httpx.Client, project: dict[str, Any], watch: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    entries, imported = watch
    p = project["uuid"]
    posture = api.post(
        f"project/{p}/label/", json={"name": "Posture", "type": "string", "values": ["sit"]}
    ).json()
    sit = posture["label_values"][0]["uuid"]
    capture = imported["captures"][entries[0]["file"]]
    response = api.post(
        f"project/{p}/capture/{capture['uuid']}/label-relationship/",
        json=[
            {
                "label": imported["exercise"]["uuid"],
                "label_value": sit,
                "capture_sample_sequence_start": 0,
                "capture_sample_sequence_end": 10,
            },
            {
                "label": imported["exercise"]["uuid"],
                "label_value": imported["values"]["ROW"],
                "capture_sample_sequence_start": 20,
                "capture_sample_sequence_end": 10,
            },
        ],
    )
    assert response.status_code == 400
    error = response.json()
    assert error["detail"].startswith(
        f"Item 0: The value {sit} belongs to label 'Posture', not to 'Exercise'."
    )
    assert "Item 1: capture_sample_sequence_start (20) must be less than" in error["detail"]
    assert set(error["data"]) == {"0.label_value", "1.capture_sample_sequence_start"}


def test_segments_wait_for_processing(
    server: RunningServer,
    api: httpx.Client,
    project: dict[str, Any],
    watch: tuple[list[dict[str, Any]], dict[str, Any]],
) -> None:
    entries, imported = watch
    p = project["uuid"]
    capture = imported["captures"][entries[0]["file"]]
    url = f"project/{p}/capture/{capture['uuid']}/label-relationship/"
    body = {
        "label": imported["exercise"]["uuid"],
        "label_value": imported["values"]["PEN"],
        "capture_sample_sequence_start": 0,
        "capture_sample_sequence_end": 10,
    }
    for state in ("SENT", "STARTED"):
        set_state(server, capture["uuid"], state)
        response = api.post(url, json=body)
        assert response.status_code == 409, response.text
        assert response.json()["detail"] == (
            f"capture {capture['name']} is still being processed; retry when task_state is SUCCESS"
        )
    set_state(server, capture["uuid"], "SUCCESS")
    assert api.post(url, json=body).status_code == 201
    # A file that failed processing: a 400, since retrying will not help.
    broken = upload_text(api, p, "broken.csv", "a,b\n1,x\n2,3\n")
    failed = wait_done(api, p, broken["uuid"])
    assert failed["task_state"] == "FAILURE"
    response = api.post(f"project/{p}/capture/{failed['uuid']}/label-relationship/", json=body)
    assert response.status_code == 400
    assert "failed processing" in response.json()["detail"]


def upload_text(api: httpx.Client, project_uuid: str, name: str, text: str) -> dict[str, Any]:
    response = api.post(
        f"project/{project_uuid}/capture/",
        data={"name": name, "asynchronous": "True"},
        files={"file": (name, text.encode())},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_change_and_delete_segments(
    api: httpx.Client, project: dict[str, Any], watch: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    entries, imported = watch
    p = project["uuid"]
    capture = imported["captures"][entries[0]["file"]]
    url = f"project/{p}/capture/{capture['uuid']}/label-relationship/"
    (segment,) = api.get(url).json()
    one = url + segment["uuid"] + "/"
    # PATCH one field; the others keep their values.
    patched = api.patch(one, json={"capture_sample_sequence_start": 5})
    assert patched.status_code == 200, patched.text
    assert patched.json()["capture_sample_sequence_start"] == 5
    assert patched.json()["capture_sample_sequence_end"] == segment["capture_sample_sequence_end"]
    # PUT the whole object back with another value (by raw value this time).
    echoed = dict(patched.json(), label_value="ROW", capture="ignored")
    put = api.put(one, json=echoed)
    assert put.status_code == 200, put.text
    assert put.json()["label_value"] == imported["values"]["ROW"]
    assert put.json()["capture"] == capture["uuid"]
    assert api.get(one).json()["value"] == "ROW"
    too_far = api.patch(one, json={"capture_sample_sequence_end": capture["max_sequence"] + 1})
    assert too_far.status_code == 400
    version = api.get(f"project/{p}/capture/{capture['uuid']}/").json()["version"]
    assert api.delete(one).status_code == 204
    assert api.get(one).status_code == 404
    assert api.get(url).json() == []
    assert api.get(f"project/{p}/capture/{capture['uuid']}/").json()["version"] == version + 1


def test_ten_thousand_segments_in_one_request(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    p = project["uuid"]
    capture = upload(api, p, shared_data / "daphnet" / "S06R02E0.csv", asynchronous=False).json()
    assert capture["max_sequence"] == 7039
    label = api.post(
        f"project/{p}/label/", json={"name": "Gait", "values": ["walk", "freeze", "turn"]}
    ).json()
    values = [v["uuid"] for v in label["label_values"]]
    segmenter = api.post(f"project/{p}/segmenter/", json={"name": "windows"}).json()
    items = [
        {
            "capture": capture["uuid"],
            "label": label["uuid"],
            "label_value": values[i % 3],
            "capture_sample_sequence_start": i % 7000,
            "capture_sample_sequence_end": i % 7000 + 39,
        }
        for i in range(10_000)
    ]
    url = f"v2/project/{p}/segmenter/{segmenter['id']}/label-relationship/"
    started = time.perf_counter()
    response = api.post(url, json=items)
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text[:500]
    created = response.json()
    assert len(created) == 10_000
    assert all(s["segmenter"] == segmenter["id"] for s in created)
    print(f"\n10,000 segments in one POST: {elapsed:.2f} s")
    assert elapsed < 10  # generous for slow CI machines; typically well under 2 s
    after = api.get(f"project/{p}/capture/{capture['uuid']}/").json()
    assert after["version"] == capture["version"] + 1  # one request, one new version
    # Pages: ?page_size=N → {"next", "previous", "results"}.
    first = api.get(url, params={"page_size": 4000}).json()
    assert first["count"] == 10_000 and len(first["results"]) == 4000
    assert first["previous"] is None
    third = httpx.get(first["next"], headers=api.headers).json()
    third = httpx.get(third["next"], headers=api.headers).json()
    assert len(third["results"]) == 2000 and third["next"] is None
    streamed = api.get(f"project/{p}/label-relationship/").json()
    assert len(streamed) == 10_000
    summary = {row["value"]: row for row in api.get(f"project/{p}/summary/").json()["segments"]}
    assert summary["walk"]["segments"] == 3334 and summary["walk"]["samples"] == 3334 * 40
    # Bulk changes and deletes: one request each.
    changes = [{"uuid": s["uuid"], "label_value": "turn"} for s in created[:5000]]
    started = time.perf_counter()
    response = api.put(f"project/{p}/label-relationship/", json=changes)
    assert response.status_code == 200, response.text[:500]
    print(f"5,000 segments changed in one PUT: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    response = api.request(
        "DELETE",
        f"project/{p}/capture/{capture['uuid']}/label-relationship/",
        json=[s["uuid"] for s in created[:9000]],
    )
    assert response.status_code == 204, response.text
    print(f"9,000 segments deleted in one DELETE: {time.perf_counter() - started:.2f} s")
    remaining = api.get(f"project/{p}/label-relationship/").json()
    assert len(remaining) == 1000
    final = api.get(f"project/{p}/capture/{capture['uuid']}/").json()
    assert final["version"] == capture["version"] + 3


def test_segmenters(api: httpx.Client, project: dict[str, Any]) -> None:
    p = project["uuid"]
    created = api.post(f"project/{p}/segmenter/", json={"name": "manual", "custom": True})
    assert created.status_code == 201
    segmenter = created.json()
    assert set(segmenter) == {"id", "name", "custom", "parameters", "created_at"}
    assert api.get(f"project/{p}/segmenter/").json() == [segmenter]
    assert api.get(f"project/{p}/segmenter/{segmenter['id']}/").json() == segmenter
    assert api.get(f"v2/project/{p}/segmenter/{segmenter['id']}/label-relationship/").json() == []
    assert api.delete(f"project/{p}/segmenter/{segmenter['id']}/").status_code == 204
    assert api.get(f"project/{p}/segmenter/{segmenter['id']}/").status_code == 404
    missing = api.post(f"v2/project/{p}/segmenter/{segmenter['id']}/label-relationship/", json=[])
    assert missing.status_code == 404


def test_label_changes_reach_the_captures_that_use_them(
    api: httpx.Client, project: dict[str, Any], watch: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    entries, imported = watch
    p = project["uuid"]
    pen = next(e for e in entries if e["segments"][0]["value"] == "PEN")
    row = next(e for e in entries if e["segments"][0]["value"] == "ROW")
    pen_url = f"project/{p}/capture/{imported['captures'][pen['file']]['uuid']}/"
    row_url = f"project/{p}/capture/{imported['captures'][row['file']]['uuid']}/"
    pen_version = api.get(pen_url).json()["version"]
    row_version = api.get(row_url).json()["version"]
    # Deleting a value deletes its segments and bumps only the captures that had them.
    exercise = imported["exercise"]["uuid"]
    value = imported["values"]["PEN"]
    assert api.delete(f"project/{p}/label/{exercise}/labelvalue/{value}").status_code == 204
    assert api.get(pen_url + "label-relationship/").json() == []
    assert len(api.get(row_url + "label-relationship/").json()) == 1
    assert api.get(pen_url).json()["version"] == pen_version + 1
    assert api.get(row_url).json()["version"] == row_version
    # Renaming a metadata value changes what the captures' metadata reads: a new version.
    subject = imported["subject"]["uuid"]
    values = api.get(f"project/{p}/metadata/{subject}/labelvalue/").json()
    wanted = row["metadata"]["Subject"]
    target = next(v for v in values if v["value"] == wanted)
    renamed = api.put(
        f"project/{p}/metadata/{subject}/labelvalue/{target['uuid']}", json={"value": "anon"}
    )
    assert renamed.status_code == 200
    assert api.get(row_url).json()["version"] == row_version + 1
    metadata = api.get(f"v2/{row_url}metadata-relationship/").json()
    assert {m["label_name"]: m["value"] for m in metadata}["Subject"] == "anon"
