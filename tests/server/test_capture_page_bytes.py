"""A page of the capture list, byte for byte: the wire format is what SensiML-compatible
clients parse, so any change to how rows are read or written (JSON column decoding, timestamp
formatting, the encoder) must leave these bytes as they are."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from capturehub.server.captures.routes import SHORT_LIST
from tests.conftest import RunningServer
from tests.server.helpers import insert_capture_rows

FIRST = "0b5c1f0e-0000-4000-8000-000000000001"
SECOND = "0b5c1f0e-0000-4000-8000-000000000002"

RESULTS = (
    '[{"uuid":"' + FIRST + '","name":"été-1.csv","created_at":"2026-02-03T04:05:06.007008+00:00",'
    '"last_modified":"2026-02-03T04:05:07.000000+00:00","version":3,"file_size":1234,'
    '"format":".csv","sha256":"' + "ab" * 32 + '","number_samples":500,"max_sequence":499,'
    '"set_sample_rate":62.5,"calculated_sample_rate":null,"capture_configuration_uuid":null,'
    '"task_state":"SUCCESS","task_result":null,"recording":false,'
    '"schema":{"AccelX":{"type":"float"},"Ünï":{"type":"int","n":[1,2.5,1e-05]}},'
    '"statistics":{"mean":0.1,"big":12345678901234567890,"label":"ø"},'
    '"last_modified_video":null},'
    '{"uuid":"'
    + SECOND
    + '","name":"capture 2.csv","created_at":"2026-02-03T04:05:06.100000+00:00",'
    '"last_modified":"2026-02-03T04:05:06.100000+00:00","version":1,"file_size":10,'
    '"format":".csv","sha256":"' + "0" * 64 + '","number_samples":null,"max_sequence":null,'
    '"set_sample_rate":null,"calculated_sample_rate":50.0,"capture_configuration_uuid":null,'
    '"task_state":"FAILURE","task_result":"line 3: not a number","recording":false,'
    '"schema":{},"statistics":{},"last_modified_video":null}]'
)


def _insert(server: RunningServer, project_uuid: str) -> None:
    common: dict[str, Any] = {"blob_key": "test/bytes", "format": ".csv"}
    insert_capture_rows(
        server,
        project_uuid,
        [
            {
                **common,
                "uuid": FIRST,
                "name": "été-1.csv",
                "version": 3,
                "file_size": 1234,
                "sha256": "ab" * 32,
                "number_samples": 500,
                "max_sequence": 499,
                "set_sample_rate": 62.5,
                "task_state": "SUCCESS",
                "schema": {
                    "AccelX": {"type": "float"},
                    "Ünï": {"type": "int", "n": [1, 2.5, 1e-05]},
                },
                "statistics": {"mean": 0.1, "big": 12345678901234567890, "label": "ø"},
                "created_at": datetime(2026, 2, 3, 4, 5, 6, 7008, tzinfo=UTC),
                "last_modified": datetime(2026, 2, 3, 4, 5, 7, tzinfo=UTC),
            },
            {
                **common,
                "uuid": SECOND,
                "name": "capture 2.csv",
                "version": 1,
                "file_size": 10,
                "sha256": "0" * 64,
                "calculated_sample_rate": 50.0,
                "task_state": "FAILURE",
                "task_result": "line 3: not a number",
                "schema": {},
                "statistics": {},
                "created_at": datetime(2026, 2, 3, 4, 5, 6, 100000, tzinfo=UTC),
                "last_modified": datetime(2026, 2, 3, 4, 5, 6, 100000, tzinfo=UTC),
            },
        ],
    )


def test_a_page_of_the_capture_list_is_pinned_byte_for_byte(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    p = str(project["uuid"])
    _insert(server, p)
    base = f"project/{p}/capture/"

    by_cursor = api.get(base, params={"limit": 2, "after": ""})
    assert by_cursor.status_code == 200, by_cursor.text
    assert by_cursor.headers["content-type"] == "application/json"
    expected = (
        '{"count":2,"next":null,"previous":null,"results":' + RESULTS + ',"next_cursor":null}'
    )
    assert by_cursor.content == expected.encode()

    by_offset = api.get(base, params={"limit": 2, "offset": 0})
    assert (
        by_offset.content
        == ('{"count":2,"next":null,"previous":null,"results":' + RESULTS + "}").encode()
    )

    whole = api.get(base)
    assert whole.content == RESULTS.encode()
    # A capture by name and a short filtered list are answered without streaming
    # (captures/routes.py, SHORT_LIST): the same bytes as the whole list's elements.
    first, second = RESULTS[1:-1].split(',{"uuid":"' + SECOND)
    second = '{"uuid":"' + SECOND + second
    assert api.get(base, params={"name": "été-1.csv"}).content == f"[{first}]".encode()
    assert api.get(base, params={"name__contains": "CAPTURE"}).content == f"[{second}]".encode()
    assert api.get(base, params={"name": "missing.csv"}).content == b"[]"
    one = api.get(f"{base}{FIRST}/")
    assert one.status_code == 200, one.text
    assert one.json() == json.loads(first)


def test_a_whole_list_longer_than_the_short_list_is_streamed_with_the_same_bytes(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    p = str(project["uuid"])
    captures = SHORT_LIST + 2
    insert_capture_rows(
        server,
        p,
        [
            {
                "uuid": str(uuid.uuid4()),
                "name": f"capture-{number:03d}.csv",
                "blob_key": f"test/{number}",
                "format": ".csv",
                "file_size": number,
                "sha256": "0" * 64,
                "task_state": "SUCCESS",
                "schema": {"x": {"type": "float"}},
                "statistics": {"mean": number / 7},
                "created_at": datetime(2026, 2, 3, 4, 5, number % 60, tzinfo=UTC),
                "last_modified": datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC),
            }
            for number in range(captures)
        ],
    )
    base = f"project/{p}/capture/"

    whole = api.get(base)
    assert whole.status_code == 200, whole.text
    assert whole.headers["content-type"] == "application/json"
    assert "content-length" not in whole.headers  # streamed
    page = api.get(base, params={"limit": captures}).json()["results"]
    assert len(page) == captures
    assert whole.content == json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode()
    # SHORT_LIST of them, by a filter: answered at once, the same elements in the same order.
    short = api.get(base, params={"name__contains": "capture-0"})
    assert "content-length" in short.headers
    expected = [capture for capture in page if capture["name"].startswith("capture-0")]
    assert len(expected) == SHORT_LIST
    assert short.json() == expected
