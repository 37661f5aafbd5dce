"""Requests that name more objects than one SQL statement may carry parameters for (65,535 on
PostgreSQL) are answered, not failed with a 500."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

# Past PostgreSQL's limit of parameters a statement.
MANY = 70_000


def test_capture_files_for_more_captures_than_a_statement_holds(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    uploaded = api.post(
        f"project/{p}/capture/",
        data={"name": "one.csv", "asynchronous": "False"},
        files={"file": ("one.csv", b"ax\n1\n")},
    )
    assert uploaded.status_code == 201, uploaded.text
    known = uploaded.json()["uuid"]
    unknown = [str(uuid.uuid4()) for _ in range(MANY)]
    refused = api.post(f"project/{p}/capture-files/", json={"capture_uuids": [known, *unknown]})
    assert refused.status_code == 404, refused.text
    assert unknown[0] in refused.json()["detail"]
    # The same capture named many times: one link each time.
    repeated = api.post(f"project/{p}/capture-files/", json={"capture_uuids": [known] * MANY})
    assert repeated.status_code == 200, repeated.text
    links = repeated.json()
    assert len(links) == MANY
    assert links[0]["url"] == f"project/{p}/capture/{known}/file/"
