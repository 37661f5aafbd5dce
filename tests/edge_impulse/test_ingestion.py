"""The ingestion routes over plain HTTP: signatures, the older /data route, bad input, and
concurrent uploads (each on SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cbor2
import httpx
import pytest
from click.testing import CliRunner

from capturehub import Client
from capturehub.cli.main import cli
from tests.conftest import RunningServer
from tests.edge_impulse.conftest import EdgeImpulseProject, create_key
from tests.servers import new_server


def document(
    values: list[Any], *, alg: str = "HS256", sensors: int = 2, interval: Any = 16
) -> dict[str, Any]:
    return {
        "protected": {"ver": "v1", "alg": alg, "iat": 1564128599},
        "signature": "0" * 64,
        "payload": {
            "device_name": "ac:87:a3:0a:2d:1b",
            "device_type": "DISCO-L475VG-IOT01A",
            "interval_ms": interval,
            "sensors": [{"name": f"acc{'XYZ'[i]}", "units": "m/s2"} for i in range(sensors)],
            "values": values,
        },
    }


def signed(body: bytes, key: str) -> bytes:
    """Sign as a device does: the HMAC of the body with 64 zeros as its signature."""
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest().encode()
    return body.replace(b"0" * 64, signature, 1)


def hmac_key(ei_project: EdgeImpulseProject) -> str:
    with ei_project.http() as http:
        project_id = http.get("v1/api/projects").json()["projects"][0]["id"]
        answer = http.get(f"v1/api/{project_id}/devkeys/hmac").json()
    assert answer["success"] is True
    return str(answer["hmacKey"])


def upload(
    ei_project: EdgeImpulseProject, files: list[tuple[str, bytes]], **headers: str
) -> httpx.Response:
    with ei_project.http() as http:
        return http.post(
            "api/training/files",
            files=[("data", (name, content)) for name, content in files],
            headers=headers,
        )


def metadata_of(ei_project: EdgeImpulseProject) -> dict[str, dict[str, Any]]:
    with Client(server=ei_project.server.url, api_key=ei_project.server.api_key) as client:
        client.project = ei_project.project["name"]
        return {c.name: dict(c.metadata) for c in client.project.captures.get_captures()}


@pytest.mark.parametrize("encoding", ["json", "cbor"])
def test_signed_documents_verify_and_tampered_ones_are_marked(
    ei_project: EdgeImpulseProject, encoding: str
) -> None:
    key = hmac_key(ei_project)
    encode = (lambda d: json.dumps(d).encode()) if encoding == "json" else cbor2.dumps
    good = signed(encode(document([[1, 2], [3, 4], [5, 6]])), key)
    tampered = signed(encode(document([[1, 2], [3, 4], [5, 7]])), key).replace(
        b"\x07" if encoding == "cbor" else b"7]", b"\x08" if encoding == "cbor" else b"8]"
    )
    wrong_key = signed(encode(document([[9, 9], [9, 8]])), "not-the-key")
    response = upload(
        ei_project,
        [
            (f"good.{encoding}", good),
            (f"tampered.{encoding}", tampered),
            (f"other.{encoding}", wrong_key),
        ],
    )
    assert response.status_code == 200, response.text
    assert [f["success"] for f in response.json()["files"]] == [True, True, True]
    found = metadata_of(ei_project)
    assert found["good"]["signature"] == "valid"
    assert found["tampered"]["signature"] == "invalid"
    assert found["other"]["signature"] == "invalid"
    # Stored byte for byte, as received.
    with Client(server=ei_project.server.url, api_key=ei_project.server.api_key) as client:
        client.project = ei_project.project["name"]
        capture = client.project.captures.get_capture_by_filename("tampered")
        assert capture is not None
        assert capture.download(ei_project.server.data_dir / "out").read_bytes() == tampered


def test_the_data_route_takes_one_document(ei_project: EdgeImpulseProject) -> None:
    body = json.dumps(document([[1, 2], [3, 4]], alg="none")).encode()
    with ei_project.http() as http:
        response = http.post(
            "api/testing/data",
            content=body,
            headers={
                "content-type": "application/json",
                "x-file-name": "idle.01",
                "x-label": "rest%20pose",
            },
        )
        assert response.status_code == 200, response.text
        assert response.text == "idle.01"
        missing = http.post(
            "api/testing/data", content=body, headers={"content-type": "application/json"}
        )
        assert missing.status_code == 400
        assert missing.json()["success"] is False
    found = metadata_of(ei_project)
    assert found["idle.01"]["category"] == "testing"
    assert found["idle.01"]["signature"] == "unsigned"
    with ei_project.http() as http:
        project_id = http.get("v1/api/projects").json()["projects"][0]["id"]
        listed = http.get(f"v1/api/{project_id}/raw-data", params={"category": "testing"}).json()
    assert [(s["filename"], s["label"]) for s in listed["samples"]] == [("idle.01", "rest pose")]


def test_bad_files_get_per_file_errors_and_the_others_are_stored(
    ei_project: EdgeImpulseProject,
) -> None:
    good = json.dumps(document([[1, 2], [3, 4]], alg="none")).encode()
    cases = {
        "broken.json": (b'{"protected": {"alg": "none"}, "payload": {', "could not be read"),
        "broken.cbor": (b"\xa2\x69protected\xa1", "could not be read"),
        "short-row.json": (
            json.dumps(document([[1, 2], [3]], alg="none")).encode(),
            "has 1 values but there are 2 sensors",
        ),
        "words.json": (
            json.dumps(document([[1, 2], ["a", 4]], alg="none")).encode(),
            "not a number",
        ),
        "zero-interval.json": (
            json.dumps(document([[1, 2], [3, 4]], alg="none", interval=0)).encode(),
            "must be greater than 0",
        ),
        "negative-interval.json": (
            json.dumps(document([[1, 2], [3, 4]], alg="none", interval=-5)).encode(),
            "must be greater than 0",
        ),
        "photo.jpg": (b"\xff\xd8\xff\xe0 not really", "Images are not stored"),
        "clip.mp4": (b"\x00\x00\x00\x18ftypmp42", "Videos are not stored"),
        "empty.csv": (b"", "empty"),
    }
    files = [("fine.json", good), *[(name, content) for name, (content, _) in cases.items()]]
    response = upload(ei_project, files)
    assert response.status_code == 200, response.text
    results = {f["fileName"]: f for f in response.json()["files"]}
    assert results["fine.json"]["success"] is True
    for name, (_, words) in cases.items():
        assert results[name]["success"] is False, name
        assert words in results[name]["error"], (name, results[name]["error"])
    assert list(metadata_of(ei_project)) == ["fine"]


def test_limits_on_files_per_request_and_file_size(ei_project: EdgeImpulseProject) -> None:
    files = [(f"n.{i}.csv", f"timestamp,a\n0,{i}\n10,{i}\n".encode()) for i in range(1001)]
    response = upload(ei_project, files, **{"x-no-label": "1"})
    assert response.status_code == 200, response.text
    results = response.json()["files"]
    assert len(results) == 1001
    assert all(item["success"] for item in results[:1000])
    assert results[1000]["success"] is False
    assert "at most 1000" in results[1000]["error"]
    assert len(metadata_of(ei_project)) == 1000


def test_a_part_over_the_size_limit(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A server whose per-file limit is 1,000 bytes: the large part is refused while it
    streams, the small one beside it is stored."""
    process = new_server(server.backend, tmp_path_factory.mktemp("small-limit"))
    try:
        account = process.create_account(f"limits-{uuid.uuid4().hex[:6]}", "limits")
        process.start(CAPTUREHUB_EDGE_IMPULSE_MAX_FILE_BYTES="1000")
        with process.http(account) as api:
            project = api.post("project/", json={"name": "limits"}).json()
        small_server = RunningServer(process=process, main=account, other=account)
        ei_project = EdgeImpulseProject(
            small_server, project, create_key(small_server, account.username, "limits")
        )
        big = b"timestamp,a\n" + b"".join(f"{i},{i}\n".encode() for i in range(2000))
        response = upload(
            ei_project, [("big.csv", big), ("small.csv", b"timestamp,a\n0,1\n10,2\n")]
        )
        assert response.status_code == 200, response.text
        big_result, small_result = response.json()["files"]
        assert big_result["success"] is False
        assert "larger than this server's limit of 1000 bytes" in big_result["error"]
        assert small_result["success"] is True
        assert list(metadata_of(ei_project)) == ["small"]
    finally:
        process.close()


def test_another_project_s_key_sees_nothing(ei_project: EdgeImpulseProject) -> None:
    assert upload(ei_project, [("a.1.csv", b"timestamp,a\n0,1\n10,2\n")]).status_code == 200
    server = ei_project.server
    with server.http(server.other) as api:
        other = api.post("project/", json={"name": "theirs"}).json()
    other_key = create_key(server, server.other.username, other["name"])
    with ei_project.http(other_key) as http:
        projects = http.get("v1/api/projects").json()["projects"]
        assert [p["name"] for p in projects] == ["theirs"]
        mine = ei_project.project
        with ei_project.http() as own:
            my_id = own.get("v1/api/projects").json()["projects"][0]["id"]
        for path in (
            f"v1/api/{my_id}/raw-data?category=training",
            f"v1/api/{my_id}/raw-data/1",
            f"v1/api/{my_id}/devkeys/hmac",
        ):
            answer = http.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["success"] is False
        assert http.post(f"v1/api/{my_id}/raw-data/delete-all").status_code == 404
        assert http.get(f"v1/api/{projects[0]['id']}/raw-data?category=all").json()["samples"] == []
        del mine
    assert list(metadata_of(ei_project)) == ["a.1"]


def test_parallel_uploads(ei_project: EdgeImpulseProject) -> None:
    def send(index: int, same: bool) -> dict[str, Any]:
        body = (
            b"timestamp,a\n0,1\n10,2\n"
            if same
            else f"timestamp,a\n0,{index + 100}\n10,2\n".encode()
        )
        response = upload(
            ei_project,
            [("same.csv" if same else f"distinct.{index}.csv", body)],
            **{"x-disallow-duplicates": "1"},
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["files"][0]
        return result

    with ThreadPoolExecutor(20) as pool:
        distinct = list(pool.map(lambda i: send(i, False), range(20)))
        same = list(pool.map(lambda i: send(i, True), range(20)))
    assert all(item["success"] for item in distinct)
    assert sum(item["success"] for item in same) == 1
    refused = [item["error"] for item in same if not item["success"]]
    assert all(error.startswith("An item with this hash already exists") for error in refused)
    names = metadata_of(ei_project)
    assert sorted(names) == sorted(["same", *[f"distinct.{i}" for i in range(20)]])


def test_wav_files_and_request_errors(ei_project: EdgeImpulseProject, shared_data: Path) -> None:
    wav = (shared_data / "audio" / "deermouse-go.wav").read_bytes()
    response = upload(ei_project, [("go.1.wav", wav)])
    assert response.json()["files"][0]["success"] is True, response.text
    with Client(server=ei_project.server.url, api_key=ei_project.server.api_key) as client:
        client.project = ei_project.project["name"]
        capture = client.project.captures.get_capture_by_filename("go.1")
        assert capture is not None
        assert capture.format == ".wav"
        assert capture.download(ei_project.server.data_dir / "wav").read_bytes() == wav
        assert [s.value for s in capture.segments] == ["go"]
    bad_metadata = upload(
        ei_project, [("b.1.csv", b"timestamp,a\n0,1\n10,2\n")], **{"x-metadata": "[1, 2]"}
    )
    assert bad_metadata.status_code == 400
    assert bad_metadata.json() == {
        "success": False,
        "error": 'x-metadata must be a JSON object, e.g. {"subject": "S01"}.',
    }
    with ei_project.http() as http:
        unknown = http.post("api/validation/files", files=[("data", ("c.csv", b"a\n1\n"))])
        assert unknown.status_code == 400
        assert "Unknown category" in unknown.json()["error"]
        not_multipart = http.post("api/training/files", content=b"a,b\n1,2\n")
        assert not_multipart.status_code == 400
        assert not_multipart.json()["success"] is False
    assert sorted(metadata_of(ei_project)) == ["go.1"]


def test_split_is_stable_and_a_revoked_key_is_refused(ei_project: EdgeImpulseProject) -> None:
    bodies = [f"timestamp,a\n0,{i}\n10,{i}\n".encode() for i in range(12)]
    with ei_project.http() as http:
        first = http.post(
            "api/split/files",
            files=[("data", (f"s.{i}.csv", body)) for i, body in enumerate(bodies)],
        )
        again = http.post(
            "api/split/files",
            files=[("data", (f"t.{i}.csv", body)) for i, body in enumerate(bodies)],
        )
    assert first.status_code == again.status_code == 200
    found = metadata_of(ei_project)
    categories = [found[f"s.{i}"]["category"] for i in range(12)]
    assert set(categories) <= {"training", "testing"}
    # The same content goes to the same set, whatever its name.
    assert categories == [found[f"t.{i}"]["category"] for i in range(12)]

    result = CliRunner().invoke(
        cli,
        ["apikey", "revoke", ei_project.key],
        env={
            "CAPTUREHUB_DATA_DIR": str(ei_project.server.data_dir),
            **(
                {"CAPTUREHUB_DATABASE_URL": ei_project.server.process.database_url}
                if ei_project.server.process.database_url
                else {}
            ),
        },
    )
    assert result.exit_code == 0, result.output
    refused = upload(ei_project, [("late.csv", b"timestamp,a\n0,1\n10,2\n")])
    assert refused.status_code == 401
    assert refused.json() == {"success": False, "error": "Invalid API key"}
