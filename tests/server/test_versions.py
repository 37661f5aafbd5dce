"""Dataset versions over HTTP, on SQLite and PostgreSQL: making, listing, reading and deleting
them, what they pin when captures change, and the refusals (duplicate name, unknown filter,
another team's project)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from capturehub.datamanager.content_hash import hash_of_listing
from tests.conftest import RunningServer
from tests.server.helpers import upload, wait_done

WATCH = ("S01_0_ABD_007.csv", "S01_1_FEL_079.csv", "S02_0_ER_102.csv")


@pytest.fixture
def watch(shared_data: Path) -> list[Path]:
    folder = shared_data / "watch" / "captures"
    return [folder / name for name in WATCH]


def _labelled(
    api: httpx.Client, project: dict[str, Any], files: list[Path]
) -> list[dict[str, Any]]:
    """Upload ``files`` (processed), with a Subject and one Exercise segment each."""
    base = f"project/{project['uuid']}/"
    key = api.post(
        base + "metadata/", json={"name": "Subject", "type": "string", "is_dropdown": False}
    ).json()
    label = api.post(
        base + "label/", json={"name": "Exercise", "type": "string", "is_dropdown": False}
    ).json()
    captures = []
    for path in files:
        response = upload(api, project["uuid"], path, asynchronous=False)
        assert response.status_code == 201, response.text
        capture = response.json()
        subject, _, exercise, _ = path.stem.split("_")
        for body, route in (
            ({"label": key["uuid"], "label_value": subject}, "metadata-relationship/"),
            (
                {
                    "label": label["uuid"],
                    "label_value": exercise,
                    "capture_sample_sequence_start": 0,
                    "capture_sample_sequence_end": 99,
                },
                "label-relationship/",
            ),
        ):
            answer = api.post(base + route, json={"capture": capture["uuid"], **body})
            assert answer.status_code == 201, answer.text
        captures.append(capture)
    return captures


def test_a_version_lists_reads_and_hashes_its_captures(
    api: httpx.Client, project: dict[str, Any], watch: list[Path]
) -> None:
    _labelled(api, project, watch)
    base = f"project/{project['uuid']}/versions/"
    created = api.post(base, json={"name": "v1", "description": "first cut"})
    assert created.status_code == 201, created.text
    version = created.json()
    assert (version["name"], version["description"], version["captures"]) == ("v1", "first cut", 3)
    assert version["segments"] == 3
    assert version["labels"] == {"Exercise": {"ABD": 1, "ER": 1, "FEL": 1}}
    assert version["samples"] == sum(len(p.read_text().splitlines()) - 1 for p in watch)
    assert [v["name"] for v in api.get(base).json()] == ["v1"]
    assert api.get(base + "v1/").json() == version
    assert api.get(base + version["uuid"] + "/").json() == version

    listing = api.get(base + "v1/capture/").json()
    assert [c["name"] for c in listing] == sorted(WATCH)
    assert listing[0]["metadata"] == {"Subject": "S01"}
    assert listing[0]["segments"] == [{"label": "Exercise", "value": "ABD", "start": 0, "end": 99}]
    # The hash is recomputed here, from the listing alone, as docs/api.md describes.
    assert hash_of_listing(listing) == version["content_hash"]
    by_name = {path.name: path for path in watch}
    for item in listing:
        file = api.get(base + f"v1/capture/{item['uuid']}/file/")
        assert file.content == by_name[item["name"]].read_bytes()
        assert hashlib.sha256(file.content).hexdigest() == item["sha256"]
        data = api.get(base + f"v1/capture/{item['uuid']}/data/")
        assert data.status_code == 200
        assert data.headers["content-type"].startswith("application/vnd.apache.arrow.stream")


def test_the_hash_escapes_and_orders_texts_as_documented(
    api: httpx.Client, project: dict[str, Any], watch: list[Path]
) -> None:
    """The server writes and sorts the listing in SQL; texts with a backslash (the one escaped
    character names and values may hold: control characters are refused) and beyond ASCII
    hash as the documented recomputation does."""
    captures = _labelled(api, project, watch)
    base = f"project/{project['uuid']}/"
    key = api.post(
        base + "metadata/", json={"name": "Note\\é", "type": "string", "is_dropdown": False}
    ).json()
    for capture, text in zip(captures, ("a\\b", "a\\\\", "zé€𝄞"), strict=True):
        answer = api.post(
            base + "metadata-relationship/",
            json={"capture": capture["uuid"], "label": key["uuid"], "label_value": text},
        )
        assert answer.status_code == 201, answer.text
    version = api.post(base + "versions/", json={"name": "escaped"}).json()
    listing = api.get(base + "versions/escaped/capture/").json()
    assert {c["metadata"]["Note\\é"] for c in listing} == {
        "a\\b",
        "a\\\\",
        "zé€𝄞",
    }
    assert hash_of_listing(listing) == version["content_hash"]


def test_the_same_data_gives_the_same_hash(
    api: httpx.Client, project: dict[str, Any], watch: list[Path]
) -> None:
    _labelled(api, project, watch)
    base = f"project/{project['uuid']}/versions/"
    first = api.post(base, json={"name": "a"}).json()
    second = api.post(base, json={"name": "b"}).json()
    assert first["content_hash"] == second["content_hash"]
    chosen = api.post(base, json={"name": "c", "where": {"metadata.Subject": "S01"}}).json()
    assert chosen["captures"] == 2
    assert chosen["where"] == {"metadata.Subject": "S01"}
    assert chosen["content_hash"] != first["content_hash"]
    diff = api.get(base + "a/diff/c/").json()
    assert [c["name"] for c in diff["removed"]] == ["S02_0_ER_102.csv"]
    assert diff["added"] == [] and diff["changed"] == []
    assert diff["labels"]["to"] == {"Exercise": {"ABD": 1, "FEL": 1}}


def test_deleting_and_replacing_captures_keeps_what_a_version_pins(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], watch: list[Path]
) -> None:
    captures = _labelled(api, project, watch)
    base = f"project/{project['uuid']}/"
    version = api.post(base + "versions/", json={"name": "v1"}).json()
    gone, replaced = captures[0], captures[1]
    assert api.delete(base + f"capture/{gone['uuid']}/").status_code == 204
    with open(watch[2], "rb") as handle:  # another recording's bytes
        answer = api.put(
            base + f"capture/{replaced['uuid']}/",
            files={"file": (watch[1].name, handle)},
            data={"name": replaced["name"]},
        )
    assert answer.status_code == 200, answer.text
    assert wait_done(api, project["uuid"], replaced["uuid"])["task_state"] == "SUCCESS"
    for item, path in ((gone, watch[0]), (replaced, watch[1])):
        file = api.get(base + f"versions/v1/capture/{item['uuid']}/file/")
        assert file.status_code == 200, file.text
        assert file.content == path.read_bytes()
    assert api.get(base + "versions/v1/").json()["content_hash"] == version["content_hash"]
    assert api.post(base + "versions/", json={"name": "v2"}).status_code == 201
    diff = api.get(base + "versions/v1/diff/v2/").json()
    assert [c["name"] for c in diff["removed"]] == [gone["name"]]
    assert [(c["name"], c["changes"]) for c in diff["changed"]] == [(replaced["name"], ["file"])]

    # Deleting the version frees the files only it kept (by a job): both of the deleted
    # capture's, the replaced capture's old ones; never a file a capture still uses.
    pinned = _stored_keys(server, gone["uuid"]) | _stored_keys(server, replaced["uuid"])
    assert len(pinned) == 6  # two originals and columnar copies kept, one pair in use
    assert api.delete(base + "versions/v1/").status_code == 204
    assert api.delete(base + "versions/v2/").status_code == 204
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        left = _stored_keys(server, gone["uuid"]) | _stored_keys(server, replaced["uuid"])
        if len(left) == 2:
            break
        time.sleep(0.2)
    assert len(left) == 2, left
    current = api.get(base + f"capture/{replaced['uuid']}/file/")
    assert current.content == watch[2].read_bytes()
    assert api.get(base + "versions/v1/").status_code == 404


def _stored_keys(server: RunningServer, capture_uuid: str) -> set[str]:
    """The capture's stored originals and columnar copies (plot pyramids, made by a job of
    their own, go with them but are not counted)."""
    blobs = server.data_dir / "blobs"
    return {
        str(path.relative_to(blobs))
        for path in blobs.rglob("*")
        if path.is_file()
        and capture_uuid in str(path)
        and path.name.startswith(("original-", "columnar-"))
    }


def test_bad_requests_are_refused_with_a_reason(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], watch: list[Path]
) -> None:
    _labelled(api, project, watch[:1])
    base = f"project/{project['uuid']}/versions/"
    assert api.post(base, json={"name": "v1"}).status_code == 201
    duplicate = api.post(base, json={"name": "v1"})
    assert duplicate.status_code == 409
    assert "v1" in duplicate.json()["detail"]
    unknown = api.post(base, json={"name": "v2", "where": {"colour": "red"}})
    assert unknown.status_code == 400
    assert "'colour'" in unknown.json()["detail"]
    unknown_key = api.post(base, json={"name": "v2", "where": {"metadata.Colour": "red"}})
    assert unknown_key.status_code == 400
    assert "Colour" in unknown_key.json()["detail"]
    for body in ({}, {"name": ""}, {"name": 3}, {"name": "v2", "where": [1]}):
        assert api.post(base, json=body).status_code == 400, body
    assert api.get(base + "nope/").status_code == 404
    assert api.get(base + "v1/diff/nope/").status_code == 404
    with server.http(server.other) as stranger:
        assert stranger.post(base, json={"name": "theirs"}).status_code == 404
        assert stranger.get(base).status_code == 404
        assert stranger.get(base + "v1/").status_code == 404
        assert stranger.get(base + "v1/capture/").status_code == 404
        assert stranger.delete(base + "v1/").status_code == 404
    assert [v["name"] for v in api.get(base).json()] == ["v1"]


def test_fsck_keeps_pinned_files_and_names_missing_ones(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], watch: list[Path]
) -> None:
    from capturehub.server.fsck import fsck

    (capture,) = _labelled(api, project, watch[:1])
    base = f"project/{project['uuid']}/"
    name = f"pinned-{project['uuid'][:8]}"
    assert api.post(base + "versions/", json={"name": name}).status_code == 201
    assert api.delete(base + f"capture/{capture['uuid']}/").status_code == 204
    kept = _stored_keys(server, capture["uuid"])
    assert len(kept) == 2  # original and columnar copy, pinned
    context = server.process.context()
    try:
        report = fsck(context, repair=True)
        assert not {key for key in report.orphan_blobs if capture["uuid"] in key}
        assert _stored_keys(server, capture["uuid"]) == kept  # the repair left them
        original = next(key for key in kept if "/original-" in key)
        context.blobs.delete(original)
        report = fsck(context)
        assert f"{name}: {capture['name']}" in report.missing_pinned
        assert not report.clean
    finally:
        context.db.dispose()
    lost = api.get(base + f"versions/{name}/capture/{capture['uuid']}/file/")
    assert lost.status_code == 404
    assert "capturehub fsck" in lost.json()["detail"]
