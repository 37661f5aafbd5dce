"""The wire contract, route by route, as the SensiML SDK sends and reads it (wire-api.md).

Each test sends a request the way the spec describes it (Basic-auth client id, multipart fields
as strings, percent-encoded brackets, echoed read-only fields...) and asserts every field and
status the spec lists. These tests are the project's guard for SensiML compatibility: the
SensiML SDK itself is not a dependency (docs/sensiml.md).
"""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, require_backend
from tests.server.helpers import upload, wait_done
from tests.servers import new_server

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
# The SensiML SDK authenticates its OAuth client with a fixed public id (value irrelevant).
SDK_CLIENT = base64.b64encode(b"a-fixed-public-client-id:").decode()
CAPTURE_FIELDS = {
    "uuid", "name", "created_at", "last_modified", "version", "file_size", "format",
    "number_samples", "max_sequence", "set_sample_rate", "calculated_sample_rate",
    "capture_configuration_uuid", "task_state", "task_result", "schema", "last_modified_video",
}  # fmt: skip
FORBIDDEN_CAPTURE_FIELDS = {"filename", "path", "capture_info", "connection", "project"}


def sdk_login(server: RunningServer) -> dict[str, Any]:
    response = httpx.post(
        server.url + "oauth/token/",
        data={"grant_type": "password", "username": server.username, "password": server.password},
        headers={"Authorization": f"Basic {SDK_CLIENT}"},
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


# §1 Conventions ---------------------------------------------------------------------------


def test_paths_answer_with_and_without_trailing_slash_without_redirect(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    for path in (
        "project/",
        "project",
        f"project/{project['uuid']}/",
        f"project/{project['uuid']}",
    ):
        response = api.get(path)
        assert response.status_code == 200, path
        assert not response.history


def test_error_shape(api: httpx.Client, project: dict[str, Any]) -> None:
    missing = api.get(f"project/{project['uuid']}/capture/{uuid.uuid4()}/")
    assert missing.status_code == 404
    assert set(missing.json()) == {"status", "detail"}
    assert missing.json()["status"] == 404
    invalid = api.post("project/", json={"name": 5})
    assert invalid.status_code == 400
    body = invalid.json()
    assert body["status"] == 400 and isinstance(body["detail"], str)
    assert all(isinstance(v, list) for v in body["data"].values())


def test_lists_page_with_limit_and_offset(api: httpx.Client, project: dict[str, Any]) -> None:
    page = api.get("project/{}/capture/".format(project["uuid"]), params={"limit": 10}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 0 and page["results"] == []


# §2 Authentication ------------------------------------------------------------------------


def test_token_answer_shape_and_refresh(server: RunningServer) -> None:
    tokens = sdk_login(server)
    assert set(tokens) >= {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "read write"
    refreshed = httpx.post(
        server.url + "oauth/token/",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": f"Basic {SDK_CLIENT}"},
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != tokens["access_token"]
    bad = httpx.post(
        server.url + "oauth/token/",
        data={"grant_type": "password", "username": server.username, "password": "wrong"},
        headers={"Authorization": f"Basic {SDK_CLIENT}"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_grant" and bad.json()["error_description"]


def test_api_key_is_a_bearer_token_everywhere(server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    team = httpx.get(server.url + "team-info/", headers=headers)
    assert team.status_code == 200
    assert {"name", "uuid"} <= set(team.json())
    assert httpx.get(server.url + "project/", headers=headers).status_code == 200
    assert httpx.get(server.url + "transform/", headers=headers).status_code == 200


def test_expired_token_is_401_with_detail(server: RunningServer) -> None:
    account = server.process.create_account(f"contract-{uuid.uuid4().hex[:6]}", "lab")
    token = server.token(account)
    server.expire_tokens(account.username)
    response = httpx.get(server.url + "project/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["status"] == 401 and response.json()["detail"]


# §3 Routes the SDK calls when it connects -----------------------------------------------


def test_connect_routes(server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {sdk_login(server)['access_token']}"}
    version = httpx.get(server.url + "version/", headers=headers)
    assert version.status_code == 200 and isinstance(version.json(), dict)
    assert "SensiML_Python_Library_Windows_Minimum" not in version.json()
    assert httpx.get(server.url + "version/").status_code == 200  # no token needed
    transforms = httpx.get(server.url + "transform/", headers=headers).json()
    assert isinstance(transforms, list) and transforms
    entry = transforms[0]
    assert isinstance(entry["uuid"], str) and isinstance(entry["type"], str)
    assert isinstance(entry["subtype"], str) and isinstance(entry["name"], str)
    assert isinstance(entry["description"], str)
    assert isinstance(entry["input_contract"], list)
    assert isinstance(entry["has_c_version"], bool) and entry["library_pack"] is None
    assert isinstance(entry["automl_available"], bool)
    platforms = httpx.get(server.url + "platforms/v2", headers=headers)
    assert platforms.status_code == 200 and platforms.json() == []
    assert not platforms.history


# §4 Projects ------------------------------------------------------------------------------


def test_project_shape(api: httpx.Client, project_name: str) -> None:
    created = api.post("project/", json={"name": project_name, "plugin_config": None})
    assert created.status_code == 201
    body = created.json()
    assert set(body) >= {
        "uuid", "name", "created_at", "last_modified", "capture_sample_schema", "settings",
        "optimized", "plugin_config", "lock_schema", "description",
    }  # fmt: skip
    assert TIMESTAMP.match(body["created_at"]) and TIMESTAMP.match(body["last_modified"])
    assert body["optimized"] is True and body["plugin_config"] is None
    assert body["lock_schema"] is False and body["settings"] == {}
    for listed in api.get("project/").json():
        assert TIMESTAMP.match(listed["created_at"]) and listed["optimized"] is True
    assert api.post("project/", json={"name": project_name}).status_code == 409
    put = api.put(f"project/{body['uuid']}/", json={**body, "description": "d"})
    assert put.status_code == 200 and put.json()["description"] == "d"


def test_capture_sample_schema_is_the_union_and_lock_schema_refuses(
    api: httpx.Client, project: dict[str, Any], shared_data: Path, tmp_path: Path
) -> None:
    watch = shared_data / "watch" / "captures" / "S01_0_ABD_007.csv"
    assert upload(api, project["uuid"], watch, asynchronous=False).status_code == 201
    schema = api.get(f"project/{project['uuid']}/").json()["capture_sample_schema"]
    header = watch.read_text().splitlines()[0].split(",")
    assert set(schema) == set(header)
    assert all(value["type"] in ("int", "float") for value in schema.values())
    locked = api.patch(f"project/{project['uuid']}/", json={"lock_schema": True})
    assert locked.json()["lock_schema"] is True
    other = tmp_path / "other.csv"
    other.write_text("Pressure,Temperature\n1,2\n3,4\n")
    refused = upload(api, project["uuid"], other, asynchronous=False)
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert "Pressure" in detail and "AccelerometerX" in detail
    failed = wait_done(api, project["uuid"], upload(api, project["uuid"], other).json()["uuid"])
    assert failed["task_state"] == "FAILURE" and "Pressure" in failed["task_result"]
    same = upload(api, project["uuid"], watch, name="again.csv", asynchronous=False)
    assert same.status_code == 201


def test_deleting_a_project_deletes_its_files(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    upload(api, project["uuid"], shared_data / "audio" / "BM003.wav", asynchronous=False)
    folder = server.data_dir / "blobs" / "captures" / project["uuid"]
    assert folder.exists()
    assert api.delete(f"project/{project['uuid']}/").status_code == 204
    assert not folder.exists()


# §5 Captures ------------------------------------------------------------------------------


def _sdk_upload(
    api: httpx.Client, project_uuid: str, path: Path, name: str, asynchronous: str
) -> httpx.Response:
    with open(path, "rb") as handle:
        return api.post(
            f"project/{project_uuid}/capture/",
            data={"name": name, "asynchronous": asynchronous},
            files={"file": (path.name.upper(), handle)},  # extension case does not matter
        )


def test_capture_object_shape(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    response = _sdk_upload(
        api, project["uuid"], shared_data / "audio" / "deermouse-go.wav", "pup", "True"
    )
    assert response.status_code == 201
    for capture in (response.json(), api.get(f"project/{project['uuid']}/capture/").json()[0]):
        assert set(capture) >= CAPTURE_FIELDS
        assert not FORBIDDEN_CAPTURE_FIELDS & set(capture)
        assert capture["task_state"] in ("SENT", "STARTED", "SUCCESS")
        assert "task_result" in capture
        assert capture["last_modified_video"] is None
        for key, value in capture.items():
            if key not in ("schema", "statistics"):
                assert not isinstance(value, dict | list), key
    done = wait_done(api, project["uuid"], response.json()["uuid"])
    assert done["task_state"] == "SUCCESS" and done["format"] == ".wav"
    assert done["set_sample_rate"] and done["number_samples"] and done["max_sequence"]


def test_synchronous_upload_and_never_pending(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    path = shared_data / "watch" / "captures" / "S02_1_ER_117.csv"
    if not path.exists():
        path = sorted((shared_data / "watch" / "captures").glob("S02_*.csv"))[0]
    response = _sdk_upload(api, project["uuid"], path, "sync.csv", "False")
    assert response.status_code == 201 and response.json()["task_state"] == "SUCCESS"
    states = {c["task_state"] for c in api.get(f"project/{project['uuid']}/capture/").json()}
    assert "PENDING" not in states


def test_duplicate_is_409_with_spec_body(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    path = shared_data / "audio" / "BM003.wav"
    assert _sdk_upload(api, project["uuid"], path, "dup X", "True").status_code == 201
    again = _sdk_upload(api, project["uuid"], path, "dup X", "True")
    assert again.status_code == 409
    body = again.json()
    assert body["status"] == 409
    assert body["detail"] == "Project already contains a file with the name dup X"
    assert isinstance(body["data"]["name"], list)


def test_update_ignores_echoed_read_only_fields_as_multipart(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    created = _sdk_upload(
        api, project["uuid"], shared_data / "audio" / "BM003.wav", "echo.wav", "False"
    ).json()
    # The SensiML SDK echoes every field it holds back as multipart form fields.
    echoed = {k: str(v) for k, v in created.items() if not isinstance(v, dict)}
    echoed.update({"name": "echo-renamed.wav", "number_samples": "1", "task_state": "FAILURE"})
    url = f"project/{project['uuid']}/capture/{created['uuid']}/"
    response = api.patch(url, data=echoed, files={"unused": ("", b"")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "echo-renamed.wav"
    assert body["number_samples"] == created["number_samples"]
    assert body["task_state"] == "SUCCESS"
    assert body["version"] == created["version"] + 1
    assert api.put(url, json={"name": "echo-renamed.wav"}).status_code == 200


def test_file_route_headers_and_range(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    path = shared_data / "daphnet" / "S06R02E0.csv"
    created = _sdk_upload(api, project["uuid"], path, "gait ü.csv", "True").json()
    response = api.get(f"project/{project['uuid']}/capture/{created['uuid']}/file/")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "filename*=UTF-8''gait%20%C3%BC.csv" in disposition
    assert response.content == path.read_bytes()
    part = api.get(
        f"project/{project['uuid']}/capture/{created['uuid']}/file", headers={"Range": "bytes=0-9"}
    )
    assert part.status_code == 206 and part.content == path.read_bytes()[:10]


def test_capture_files_route(api: httpx.Client, project: dict[str, Any], shared_data: Path) -> None:
    created = _sdk_upload(
        api, project["uuid"], shared_data / "audio" / "BM003.wav", "cf.wav", "True"
    ).json()
    response = api.post(
        f"project/{project['uuid']}/capture-files/",
        json={"capture_uuids": [created["uuid"]], "expires_in": 100},
    )
    assert response.status_code == 200
    assert response.json() == [
        {
            "uuid": created["uuid"],
            "name": "cf.wav",
            "url": f"project/{project['uuid']}/capture/{created['uuid']}/file/",
            "local": True,
        }
    ]


# §6 Labels, metadata, segments -----------------------------------------------------------


@pytest.fixture
def labelled(api: httpx.Client, project: dict[str, Any], shared_data: Path) -> dict[str, Any]:
    """A processed capture with metadata key Subject and segment label Exercise."""
    p = project["uuid"]
    capture = upload(
        api, p, shared_data / "watch" / "captures" / "S01_0_ABD_007.csv", asynchronous=False
    ).json()
    subject = api.post(
        f"project/{p}/metadata/", json={"name": "Subject", "type": "string", "is_dropdown": False}
    ).json()
    exercise = api.post(
        f"project/{p}/label/", json={"name": "Exercise", "type": "string", "values": ["ABD", "PEN"]}
    ).json()
    return {"project": p, "capture": capture, "subject": subject, "exercise": exercise}


def test_label_and_metadata_shapes(api: httpx.Client, labelled: dict[str, Any]) -> None:
    p = labelled["project"]
    for kind, expected in (("label", "Exercise"), ("metadata", "Subject")):
        [item] = api.get(f"project/{p}/{kind}/").json()
        assert item["name"] == expected
        assert {"uuid", "name", "type", "is_dropdown", "metadata", "created_at",
                "last_modified", "label_values"} <= set(item)  # fmt: skip
        assert item["metadata"] is (kind == "metadata")
        assert TIMESTAMP.match(item["created_at"])
    values = labelled["exercise"]["label_values"]
    assert sorted(v["value"] for v in values) == ["ABD", "PEN"]
    assert all(re.match(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$", v["color"]) for v in values)
    clash = api.post(f"project/{p}/label/", json={"name": "Subject", "type": "string"})
    assert clash.status_code == 409
    # labelvalue/{uuid} is sent without the trailing slash by the SensiML SDK
    label_uuid, value_uuid = labelled["exercise"]["uuid"], values[0]["uuid"]
    one = api.get(f"project/{p}/label/{label_uuid}/labelvalue/{value_uuid}")
    assert one.status_code == 200 and one.json()["uuid"] == value_uuid
    added = api.post(
        f"project/{p}/label/{label_uuid}/labelvalue/", json={"value": "FEL", "color": "#112233"}
    )
    assert added.status_code == 201 and added.json()["color"].upper() == "#112233"


def test_relationship_posts_answer_lists(api: httpx.Client, labelled: dict[str, Any]) -> None:
    p, c = labelled["project"], labelled["capture"]
    value = api.post(
        f"project/{p}/metadata/{labelled['subject']['uuid']}/labelvalue/", json={"value": "S01"}
    ).json()
    meta = api.post(
        f"v2/project/{p}/capture/{c['uuid']}/metadata-relationship/",
        json={"label": labelled["subject"]["uuid"], "label_value": value["uuid"]},
    )
    assert meta.status_code == 201 and isinstance(meta.json(), list)
    assert meta.json()[0]["uuid"]
    abd = next(v for v in labelled["exercise"]["label_values"] if v["value"] == "ABD")
    segment = api.post(
        f"project/{p}/capture/{c['uuid']}/label-relationship/",
        json={"label": labelled["exercise"]["uuid"], "label_value": abd["uuid"],
              "capture_sample_sequence_start": 0,
              "capture_sample_sequence_end": c["max_sequence"]},
    )  # fmt: skip
    assert segment.status_code == 201 and isinstance(segment.json(), list)
    assert segment.json()[0]["capture_sample_sequence_end"] == c["max_sequence"]
    assert api.get(f"project/{p}/capture/{c['uuid']}/").json()["version"] == c["version"] + 2


def test_metadata_query_route_encodings(api: httpx.Client, labelled: dict[str, Any]) -> None:
    p, c = labelled["project"], labelled["capture"]
    api.post(
        f"v2/project/{p}/capture/{c['uuid']}/metadata-relationship/",
        json={"label": labelled["subject"]["uuid"], "label_value": "left/right S1"},
    )
    for path in (
        f"project/{p}/capture/metadata/%5BSubject%5D=%5Bleft/right%20S1%5D/",
        f"project/{p}/capture/metadata/[Subject]=[left/right S1]/",
        f"project/{p}/capture/metadata/[Subject]=[left%2Fright%20S1]",
    ):
        found = api.get(path)
        assert found.status_code == 200, path
        assert [x["uuid"] for x in found.json()] == [c["uuid"]], path
        assert set(found.json()[0]) >= CAPTURE_FIELDS
    assert api.get(f"project/{p}/capture/metadata/[Subject]=[nobody]/").json() == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_segment_on_unprocessed_capture_is_409(
    backend: str, tmp_path: Path, shared_data: Path
) -> None:
    require_backend(backend)
    process = new_server(backend, tmp_path / "server")
    try:
        account = process.create_account("stuck", "lab")
        process.start(CAPTUREHUB_WORKERS="0")  # nothing processes: captures stay SENT
        token = httpx.post(
            process.url + "oauth/token/",
            data={"grant_type": "password", "username": "stuck", "password": account.password},
        ).json()["access_token"]
        with httpx.Client(
            base_url=process.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as api:
            p = api.post("project/", json={"name": "sent"}).json()["uuid"]
            label = api.post(f"project/{p}/label/", json={"name": "L", "values": ["a"]}).json()
            capture = upload(api, p, shared_data / "audio" / "BM003.wav").json()
            assert capture["task_state"] == "SENT"
            response = api.post(
                f"project/{p}/capture/{capture['uuid']}/label-relationship/",
                json={"label": label["uuid"], "label_value": label["label_values"][0]["uuid"],
                      "capture_sample_sequence_start": 0, "capture_sample_sequence_end": 1},
            )  # fmt: skip
            assert response.status_code == 409
            assert (
                response.json()["detail"]
                == (
                    f"capture {capture['name']} is still being processed; retry when task_state "
                    "is SUCCESS"
                )
                or "still being processed" in response.json()["detail"]
            )
    finally:
        process.close()


def test_capture_configuration_with_client_uuid(api: httpx.Client, project: dict[str, Any]) -> None:
    chosen = str(uuid.uuid4())
    created = api.post(
        f"project/{project['uuid']}/captureconfiguration/",
        json={"name": "wrist", "configuration": {"rate": 50}, "uuid": chosen},
    )
    assert created.status_code == 201
    assert created.json()["uuid"] == chosen
    assert {"uuid", "name", "configuration", "created_at", "last_modified"} <= set(created.json())
    response = api.post(
        f"project/{project['uuid']}/capture/",
        data={"name": "c.csv", "capture_configuration_uuid": chosen, "asynchronous": "False"},
        files={"file": ("c.csv", b"a,b\n1,2\n3,4\n")},
    )
    assert response.status_code == 201
    assert response.json()["capture_configuration_uuid"] == chosen


# §7 Statistics ----------------------------------------------------------------------------


def test_statistics_rows_share_keys(api: httpx.Client, labelled: dict[str, Any]) -> None:
    p, c = labelled["project"], labelled["capture"]
    api.post(
        f"v2/project/{p}/capture/{c['uuid']}/metadata-relationship/",
        json={"label": labelled["subject"]["uuid"], "label_value": "S01"},
    )
    api.post(
        f"project/{p}/capture/{c['uuid']}/label-relationship/",
        json={"label": labelled["exercise"]["uuid"], "label_value": "ABD",
              "capture_sample_sequence_start": 0, "capture_sample_sequence_end": 10},
    )  # fmt: skip
    api.post(
        f"project/{p}/capture/",
        data={"name": "second.csv", "asynchronous": "False"},
        files={"file": ("second.csv", b"a,b\n1,2\n3,4\n")},
    )
    response = api.request("GET", f"project/{p}/statistics/", json={"events": False})
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 2
    keys = {frozenset(row) for row in rows}
    assert len(keys) == 1
    assert {"capture_name", "capture_uuid", "total_event_count", "event_labels", "metadata"} <= set(
        rows[0]
    )
    for row in rows:
        assert set(row["metadata"]) == {"Subject"}
        assert {v["value"] for v in row["event_labels"]["Exercise"]} == {"ABD", "PEN"}
    first = next(row for row in rows if row["capture_uuid"] == c["uuid"])
    assert first["total_event_count"] == 1 and first["metadata"]["Subject"] == "S01"
    assert {v["value"]: v["count"] for v in first["event_labels"]["Exercise"]} == {
        "ABD": 1,
        "PEN": 0,
    }
