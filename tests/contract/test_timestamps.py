"""Every timestamp of every answer has the one shape of wire-api §1:
``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` (six fraction digits, a ``+00:00`` offset). The SensiML
SDK parses them with exactly that format.

The answers checked: those of the writes that create or change each kind of object (project,
capture uploaded synchronously and not, capture configuration, label, metadata key, their
values, metadata relationship, segment, segmenter), and those of every GET route that
``openapi.json`` lists, filled with the ids of those objects, as a plain list and as a page.
Any field whose name says it is a time (``created_at``, ``last_modified``, ``*_at``...) and
any string that starts like a date must have the shape.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx

from tests.conftest import RunningServer

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
LOOKS_LIKE_A_DATE = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d")
TIME_FIELD = re.compile(r"(_at|^last_modified|_modified|_time|^timestamp)$")
CSV = b"AccelX,AccelY\n1,2\n3,4\n5,6\n7,8\n"


def _check(where: str, body: Any, bad: list[str], seen: Counter[str], key: str = "") -> None:
    if isinstance(body, dict):
        for name, value in body.items():
            _check(where, value, bad, seen, str(name))
    elif isinstance(body, list):
        for value in body:
            _check(where, value, bad, seen, key)
    elif isinstance(body, str) and (TIME_FIELD.search(key) or LOOKS_LIKE_A_DATE.match(body)):
        seen[f"{where} {key}"] += 1
        if not TIMESTAMP.match(body):
            bad.append(f"{where}: {key} = {body!r}")


def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_every_timestamp_has_the_wire_format(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    answers: dict[str, Any] = {"POST project/": project}
    p = project["uuid"]
    configuration = _ok(
        api.post(f"project/{p}/captureconfiguration/", json={"name": "c", "configuration": {}})
    )
    answers["POST captureconfiguration"] = configuration
    synchronous = _ok(
        api.post(
            f"project/{p}/capture/",
            data={
                "name": "sync.csv",
                "asynchronous": "False",
                "capture_configuration_uuid": configuration["uuid"],
            },
            files={"file": ("sync.csv", CSV)},
        )
    )
    answers["POST capture (synchronous)"] = synchronous
    answers["POST capture (asynchronous)"] = _ok(
        api.post(
            f"project/{p}/capture/", data={"name": "async.csv"}, files={"file": ("a.csv", CSV)}
        )
    )
    c = synchronous["uuid"]
    answers["PATCH capture"] = _ok(api.patch(f"project/{p}/capture/{c}/", json={"name": "s.csv"}))
    answers["PATCH captureconfiguration"] = _ok(
        api.patch(f"project/{p}/captureconfiguration/{configuration['uuid']}/", json={"name": "d"})
    )
    label = _ok(api.post(f"project/{p}/label/", json={"name": "kind", "values": ["walk"]}))
    meta = _ok(api.post(f"project/{p}/metadata/", json={"name": "subject", "values": ["S01"]}))
    answers["POST label"], answers["POST metadata"] = label, meta
    answers["POST labelvalue"] = _ok(
        api.post(f"project/{p}/label/{label['uuid']}/labelvalue/", json={"value": "run"})
    )
    answers["PATCH label"] = _ok(api.patch(f"project/{p}/label/{label['uuid']}/", json={}))
    relationship = _ok(
        api.post(
            f"v2/project/{p}/capture/{c}/metadata-relationship/",
            json={"label": meta["uuid"], "label_value": "S01"},
        )
    )
    answers["POST metadata-relationship"] = relationship
    answers["PATCH metadata-relationship"] = _ok(
        api.patch(
            f"v2/project/{p}/capture/{c}/metadata-relationship/{relationship[0]['uuid']}/",
            json={"label_value": "S01"},
        )
    )
    segmenter = _ok(api.post(f"project/{p}/segmenter/", json={"name": "by hand"}))
    answers["POST segmenter"] = segmenter
    segment = {
        "label": label["uuid"],
        "label_value": "walk",
        "capture_sample_sequence_start": 0,
        "capture_sample_sequence_end": 2,
        "segmenter": segmenter["id"],
    }
    segments = _ok(api.post(f"project/{p}/capture/{c}/label-relationship/", json=segment))
    answers["POST label-relationship"] = segments
    answers["PATCH label-relationship"] = _ok(
        api.patch(
            f"project/{p}/capture/{c}/label-relationship/{segments[0]['uuid']}/",
            json={"capture_sample_sequence_end": 3},
        )
    )
    answers["POST v2 segmenter label-relationship"] = _ok(
        api.post(
            f"v2/project/{p}/segmenter/{segmenter['id']}/label-relationship/",
            json=[{**segment, "capture": c, "capture_sample_sequence_start": 1}],
        )
    )
    answers["POST capture-files"] = _ok(
        api.post(f"project/{p}/capture-files/", json={"capture_uuids": [c]})
    )
    version = _ok(api.post(f"project/{p}/versions/", json={"name": "v1"}))
    answers["POST versions"] = version

    ids = {
        "project_uuid": p,
        "capture_uuid": c,
        "label_uuid": label["uuid"],
        "value_uuid": label["label_values"][0]["uuid"],
        "relationship_uuid": relationship[0]["uuid"],
        "segment_uuid": segments[0]["uuid"],
        "segmenter_id": str(segmenter["id"]),
        "configuration_uuid": configuration["uuid"],
        "version": version["uuid"],
        "old": version["uuid"],
        "new": version["name"],
        "rest": "[subject]=[S01]/",
    }
    metadata_ids = {
        **ids,
        "label_uuid": meta["uuid"],
        "value_uuid": meta["label_values"][0]["uuid"],
    }
    recording = _ok(
        api.post(
            f"project/{p}/recordings/",
            json={"name": "live.csv", "channels": [{"name": "x"}], "sample_rate": 10},
        )
    )
    answers["POST recordings"] = recording
    answers["POST recording batch"] = _ok(
        api.post(
            f"project/{p}/recordings/{recording['uuid']}/batches/",
            json={"seq": 0, "values": [[1.0]]},
        )
    )
    recording_ids = {**ids, "capture_uuid": recording["uuid"]}
    document = httpx.get(server.url + "openapi.json", timeout=30).json()
    for template, operations in document["paths"].items():
        if "get" not in operations:
            continue
        path = template
        chosen = metadata_ids if "/metadata/{label_uuid}" in template else ids
        if "/recordings/{capture_uuid}" in template:
            chosen = recording_ids
        for key, value in chosen.items():
            path = path.replace("{" + key + "}", value)
        assert "{" not in path, f"no id for a parameter of {template}: add it above"
        for params in ({}, {"limit": 2}, {"page_size": 2}):
            response = api.get(path.lstrip("/"), params=params)
            assert response.status_code == 200, (template, params, response.text)
            if response.headers.get("content-type", "").startswith("application/json"):
                answers[f"GET {template} {params or ''}"] = response.json()

    bad: list[str] = []
    seen: Counter[str] = Counter()
    for where, body in answers.items():
        _check(where, body, bad, seen)
    assert not bad, "timestamps not in the wire format:\n" + "\n".join(bad)
    # The walk did meet the timestamps of every kind of object (a route renamed or a field
    # dropped would otherwise make this test pass by checking nothing).
    kinds = {
        "captures": "GET /project/{project_uuid}/capture/ ",
        "one capture": "GET /project/{project_uuid}/capture/{capture_uuid}/ ",
        "metadata": "metadata-relationship",
        "segments": "label-relationship",
        "segmenters": "segmenter",
        "labels": "GET /project/{project_uuid}/label/ ",
        "configurations": "captureconfiguration",
        "projects": "GET /project/ ",
    }
    for kind, where in kinds.items():
        assert any(where in key and ("created_at" in key) for key in seen), (kind, sorted(seen))
