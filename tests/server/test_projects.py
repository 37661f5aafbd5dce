"""Projects over HTTP (wire-api §4)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import RunningServer

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


def test_create_list_get_update_delete(api: httpx.Client, project_name: str) -> None:
    created = api.post("project/", json={"name": project_name, "settings": {"a": 1}})
    assert created.status_code == 201
    project: dict[str, Any] = created.json()
    assert project["name"] == project_name
    assert project["optimized"] is True
    assert project["plugin_config"] is None
    assert project["lock_schema"] is False
    assert project["settings"] == {"a": 1}
    assert project["capture_sample_schema"] == {}
    assert TIMESTAMP.match(project["created_at"]) and TIMESTAMP.match(project["last_modified"])
    listed = api.get("project/").json()
    assert project["uuid"] in [p["uuid"] for p in listed]
    assert api.get(f"project/{project['uuid']}/").json()["name"] == project_name
    # Without the trailing slash too, with no redirect.
    no_slash = api.get(f"project/{project['uuid']}")
    assert no_slash.status_code == 200 and no_slash.json()["uuid"] == project["uuid"]
    patched = api.patch(
        f"project/{project['uuid']}/",
        json={"description": "gait study", "optimized": False, "uuid": "ignored"},
    )
    assert patched.status_code == 200
    assert patched.json()["description"] == "gait study"
    assert patched.json()["optimized"] is True
    assert api.delete(f"project/{project['uuid']}/").status_code == 204
    missing = api.get(f"project/{project['uuid']}/")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404


def test_duplicate_project_name_is_409(api: httpx.Client, project: dict[str, Any]) -> None:
    again = api.post("project/", json={"name": project["name"]})
    assert again.status_code == 409
    body = again.json()
    assert body["status"] == 409 and project["name"] in body["detail"]
    assert "name" in body["data"]


def test_bad_project_bodies_are_400(api: httpx.Client) -> None:
    no_name = api.post("project/", json={})
    assert no_name.status_code == 400
    assert "name" in no_name.json()["data"]
    for bad in ("", "   ", "a\x00b", "tab\there", "x" * 1001):
        response = api.post("project/", json={"name": bad})
        assert response.status_code == 400, bad
        assert response.json()["detail"]
    not_json = api.post(
        "project/", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400


def test_other_team_cannot_see_project(server: RunningServer, project: dict[str, Any]) -> None:
    with server.http(server.other) as rival:
        assert project["uuid"] not in [p["uuid"] for p in rival.get("project/").json()]
        assert rival.get(f"project/{project['uuid']}/").status_code == 404
        assert rival.patch(f"project/{project['uuid']}/", json={"name": "x"}).status_code == 404
        assert rival.delete(f"project/{project['uuid']}/").status_code == 404
        # the same name is free for another team
        assert rival.post("project/", json={"name": project["name"]}).status_code == 201


def test_deleting_a_project_removes_its_captures_files(
    server: RunningServer, api: httpx.Client, project_name: str
) -> None:
    """The rows and the files are gone when the 204 arrives."""
    project = api.post("project/", json={"name": project_name}).json()["uuid"]
    for index in range(3):
        uploaded = api.post(
            f"project/{project}/capture/",
            data={"name": f"c{index}.csv", "asynchronous": "False"},
            files={"file": (f"c{index}.csv", b"ax\n1\n2\n")},
        )
        assert uploaded.status_code == 201, uploaded.text
    folder = server.data_dir / "blobs" / "captures" / project
    # Originals, columnar copies and plot pyramids (built by a job just after processing).
    deadline = time.monotonic() + 60
    while len(_files(folder)) < 9 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_files(folder)) == 9
    assert api.delete(f"project/{project}/").status_code == 204
    assert api.get(f"project/{project}/capture/").status_code == 404
    assert not folder.exists()


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]
